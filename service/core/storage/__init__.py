"""Durable storage for drawings and versioned online-model weights.

Drawings have two interchangeable backends with the same contract (see
``base.py``); weights have one algorithm (``weights.py``) over a thin object
adapter per backend:

>>> from pathlib import Path
>>> drawings, weights = LocalDrawingStore(Path("data")), WeightStore(LocalObjects(Path("data")))  # doctest: +SKIP
>>> client = make_s3_client("http://127.0.0.1:8333", "us-east-1")                                # doctest: +SKIP
>>> drawings = S3DrawingStore(client, "inkling", "prod")                                           # doctest: +SKIP
>>> weights = WeightStore(S3Objects(client, "inkling", "prod"))                                    # doctest: +SKIP
"""

from .base import (DRAWING_ID_RE, AlreadyExists, CorruptObject, DrawingRecord, DrawingStore, NotFound, ObjectStore,
                   StorageError, StorageUnavailable, VersionConflict, WeightVersion, new_drawing_id)
from .local import LocalDrawingStore, LocalObjects
from .s3 import S3DrawingStore, S3Objects, make_s3_client
from .weights import WeightStore

__all__ = [
    "StorageError", "StorageUnavailable", "NotFound", "VersionConflict", "AlreadyExists", "CorruptObject",
    "DrawingRecord", "WeightVersion", "DrawingStore", "ObjectStore", "WeightStore", "DRAWING_ID_RE",
    "new_drawing_id", "LocalDrawingStore", "LocalObjects", "S3DrawingStore", "S3Objects", "make_s3_client",
]
