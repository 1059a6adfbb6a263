"""Durable storage for drawings and versioned online-model weights.

Two interchangeable backends with the same contract (see ``base.py``):

>>> from pathlib import Path
>>> drawings, weights = LocalDrawingStore(Path("data")), LocalWeightStore(Path("data"))  # doctest: +SKIP
>>> client = make_s3_client("http://127.0.0.1:8333", "us-east-1")                        # doctest: +SKIP
>>> drawings, weights = S3DrawingStore(client, "inkling", "prod"), S3WeightStore(client, "inkling", "prod")  # doctest: +SKIP
"""

from .base import (DRAWING_ID_RE, AlreadyExists, CorruptObject, DrawingRecord, DrawingStore, NotFound,
                   StorageError, StorageUnavailable, VersionConflict, WeightPointer, WeightStore, new_drawing_id)
from .local import LocalDrawingStore, LocalWeightStore
from .s3 import S3DrawingStore, S3WeightStore, make_s3_client

__all__ = [
    "StorageError", "StorageUnavailable", "NotFound", "VersionConflict", "AlreadyExists", "CorruptObject",
    "DrawingRecord", "WeightPointer", "DrawingStore", "WeightStore", "DRAWING_ID_RE", "new_drawing_id",
    "LocalDrawingStore", "LocalWeightStore", "S3DrawingStore", "S3WeightStore", "make_s3_client",
]
