"""A web worker's parts, built once at start-up from the deployment's shared parts (:mod:`service.core.parts`).

A web worker stores drawings, enqueues them and answers with the versions the
learner publishes; it never learns, and it predicts with the serving twins of
the models (no TensorFlow).
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from models import load_original
from models.alphabets import Alphabet
from models.base import accuracy
from models.prototypes import PrototypeMemory

from ..core.audit import AuditLog
from ..core.curation import ReviewStore
from ..core.lineup import KINDS, ONLINE_MODELS, online, original
from ..core.metrics import Metrics
from ..core.numbers import NumberStore
from ..core.parts import Parts
from ..core.promotions import PromotionStore
from ..core.queue import LearnQueue
from ..core.settings import Settings
from ..core.storage import DrawingStore, WeightStore
from ..core.writers import WriterMemories
from .clients import ClientIds
from .limits import RateLimiter, TokenBucket
from .recognizer import Recognizer
from .review import ReviewQueue
from .stats import Stats
from .versions import FollowedModel, VersionFollower


@dataclass
class WebRuntime:
    settings: Settings
    alphabet: Alphabet
    drawings: DrawingStore
    weights: WeightStore
    queue: LearnQueue
    metrics: Metrics
    recognizer: Recognizer
    follower: VersionFollower
    memories: WriterMemories
    stats: Stats
    clients: ClientIds
    drawing_limiter: RateLimiter
    prediction_limiter: TokenBucket
    listing_limiter: TokenBucket
    original_accuracy: dict[str, float]  # each original's served version's, on the alphabet's holdout
    reviews: ReviewStore
    review_queue: ReviewQueue
    admins: dict[str, str]  # admin tokens by their holders' names (Settings.admins)
    inference: ThreadPoolExecutor | None = None  # None: CPU work runs on the event loop itself
    ready: bool = False
    numbers: NumberStore | None = None  # numbers saved whole (POST /api/numbers), beside reviews and memories

    @property
    def promotions(self) -> PromotionStore:
        return PromotionStore(self.weights.objects)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.weights.objects)

    @property
    def models(self) -> dict[str, FollowedModel]:
        return self.recognizer.models

    @property
    def online(self) -> dict[str, FollowedModel]:
        return self.recognizer.online

    async def infer(self, fn, *args):
        """Run ``fn(*args)`` (decoding, preprocessing, models: CPU work) on the inference threads.

        A few threads, not the request thread pool's forty: a worker has about one
        core, so more threads only add memory (each keeps its own malloc arena and
        buffers: 16 at once cost a worker ~40 MB) and make latency ragged.
        """
        if self.inference is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self.inference, fn, *args)

    async def memory_of(self, writer: str | None) -> PrototypeMemory | None:
        """The writer's memory for answering (None without a writer id); read from the store only on a cache miss."""
        if writer is None:
            return None
        memory = self.memories.cached_view(writer)
        return memory if memory is not None else await asyncio.to_thread(self.memories.view, writer)


def build_web(parts: Parts) -> WebRuntime:
    """The web wing's parts, loaded and warmed up: the first request pays for nothing."""
    settings, alphabet, weights, queue, metrics = parts.settings, parts.alphabet, parts.weights, parts.queue, parts.metrics
    shipped = {kind: load_original(kind, alphabet, serving=True) for kind in KINDS}
    for kind in KINDS:
        weights.migrate(online(kind))
    # The shipped CNN stays the features of writers' memories and of the gate (service.web.recognizer).
    recognizer = Recognizer.following(shipped, weights, alphabet)
    models = recognizer.models
    holdout_x, holdout_y = parts.sample.holdout
    original_accuracy = {}

    def served(name: str, version: int) -> None:
        metrics.version.labels(name).set(version)
        metrics.steps.labels(name).set(models[name].steps)
        if name not in ONLINE_MODELS:  # a promotion or a rollback: what the online twins are measured against
            original_accuracy[name] = accuracy(models[name].serving, holdout_x, holdout_y)

    follower = VersionFollower(models, ONLINE_MODELS, settings.refresh_seconds)
    follower.on_version = served
    follower.on_corrupt = lambda name: metrics.corrupt_versions.labels(name).inc()
    for kind in KINDS:
        original_accuracy[original(kind)] = accuracy(shipped[kind], holdout_x, holdout_y)
    salt = (settings.client_salt.get_secret_value().encode() if settings.client_salt else secrets.token_bytes(16))
    # Writers' memories live in the deployment's store beside the weights (writers/<key>.json).
    memories = WriterMemories(weights.objects, n_classes=alphabet.n_classes, size=settings.memory_size,
                              cache_writers=settings.memory_cache_writers, ttl_s=settings.memory_ttl_seconds)
    memories.on_change = queue.announce_memory
    memories.keep_known_fresh()  # only writers with a memory are read: made-up ids cost nothing
    queue.subscribe_memories(memories.changed)
    reviews = ReviewStore(weights.objects)
    runtime = WebRuntime(
        settings, alphabet, parts.drawings, weights, queue, metrics, recognizer, follower, memories,
        Stats(parts.drawings, weights, recognizer.online, original_accuracy, alphabet.n_classes),
        ClientIds(salt),
        RateLimiter(settings.drawings_per_minute, settings.drawings_burst,
                    settings.queue_address() or "memory://", settings.queue_name),
        # Per process, in memory: a shared count would cost every prediction a Redis round trip.
        TokenBucket(settings.predictions_per_minute, settings.predictions_burst),
        TokenBucket(settings.listings_per_minute, settings.listings_burst),
        original_accuracy, reviews, ReviewQueue(parts.drawings, reviews), settings.admins(),
        inference=ThreadPoolExecutor(settings.inference_threads, "inference") if settings.inference_threads else None,
        numbers=NumberStore(weights.objects),
    )
    metrics.watch_queue(queue)
    parts.drawings.on_corrupt = lambda drawing_id: metrics.corrupt_drawings.inc()
    metrics.rate_limit_shared.set(float(runtime.drawing_limiter.shared))
    runtime.drawing_limiter.on_change = lambda shared: metrics.rate_limit_shared.set(float(shared))
    queue.subscribe(follower.poke)
    follower.refresh()

    warm_x = holdout_x[:48]
    for model in (recognizer.features, *(m.serving for m in models.values())):
        model.predict_proba(warm_x[:1])
        model.predict_proba(warm_x)
    recognizer.features.activations(warm_x[:1])
    recognizer.activations(warm_x[0])
    return runtime
