"""The parts every process of a deployment builds once from :class:`Settings`, and shares between its roles.

A web worker, the learner, and the embedded default (both in one process) each
start here: the alphabet, the drawing and weight stores, the learn queue, the
alphabet's sample and the metrics registry. In the embedded default the web
wing and the learner are handed the same parts, so they share one in-process
queue and one store: the same code paths as a scale-out deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.alphabets import Alphabet, Sample, load_alphabet

from .metrics import Metrics
from .queue import LearnQueue, make_queue
from .settings import Settings
from .storage import DrawingStore, LocalDrawingStore, LocalObjects, S3DrawingStore, S3Objects, WeightStore, make_s3_client


@dataclass(frozen=True)
class Parts:
    settings: Settings
    alphabet: Alphabet
    drawings: DrawingStore
    weights: WeightStore
    queue: LearnQueue
    sample: Sample
    metrics: Metrics


def make_stores(settings: Settings) -> tuple[DrawingStore, WeightStore]:
    if settings.storage == "s3":
        client = make_s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_timeout_s)
        drawings, objects = (S3DrawingStore(client, settings.s3_bucket, settings.s3_prefix),
                             S3Objects(client, settings.s3_bucket, settings.s3_prefix))
    else:
        drawings, objects = LocalDrawingStore(Path(settings.data_dir)), LocalObjects(settings.data_dir)
    return drawings, WeightStore(objects, grace_s=settings.prune_grace_seconds)


def make_learn_queue(settings: Settings) -> LearnQueue:
    return make_queue(settings.queue_address(), settings.queue_name, settings.queue_max_drawings)


def build_parts(settings: Settings, metrics: Metrics | None = None) -> Parts:
    """The shared parts, with the deployment's one :class:`Alphabet` (everything else is handed it)."""
    alphabet = load_alphabet(settings.alphabet)
    drawings, weights = make_stores(settings)
    return Parts(settings, alphabet, drawings, weights, make_learn_queue(settings), alphabet.load_sample(),
                 metrics or Metrics())
