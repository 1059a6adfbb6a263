"""Everything a running service holds, built once from :class:`Settings` at start-up."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import load_original
from models.registry import WEIGHTS_DIR

from .guard import HoldoutGuard
from .learner import Learner
from .limits import RateLimiter
from .metrics import Metrics
from .online import OnlineModel
from .recognizer import Recognizer
from .replay import ReplayBuffer
from .settings import Settings
from .storage import (DrawingStore, LocalDrawingStore, LocalWeightStore, S3DrawingStore, S3WeightStore,
                      StorageError, WeightStore, make_s3_client)

log = logging.getLogger(__name__)

SAMPLE_PATH = WEIGHTS_DIR / "mnist-sample.npz"


def make_stores(settings: Settings) -> tuple[DrawingStore, WeightStore]:
    if settings.storage == "s3":
        client = make_s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_timeout_s)
        return (S3DrawingStore(client, settings.s3_bucket, settings.s3_prefix),
                S3WeightStore(client, settings.s3_bucket, settings.s3_prefix))
    root = Path(settings.data_dir)
    return LocalDrawingStore(root), LocalWeightStore(root)


@dataclass
class Runtime:
    settings: Settings
    drawings: DrawingStore
    weights: WeightStore
    recognizer: Recognizer
    learner: Learner
    guard: HoldoutGuard
    metrics: Metrics
    limiter: RateLimiter
    salt: bytes
    ready: bool = False
    _stats_cache: tuple[float, dict] | None = field(default=None, repr=False)

    @property
    def online(self) -> dict[str, OnlineModel]:
        return self.recognizer.online

    def client_id(self, address: str) -> str:
        """A salted hash: lets us group one person's drawings without storing their address."""
        return hashlib.sha256(self.salt + address.encode()).hexdigest()[:16]

    def refresh_versions(self) -> None:
        """Adopt versions other workers published (called periodically)."""
        for online in self.online.values():
            try:
                online.sync()
            except StorageError as exc:
                log.debug("could not refresh %s: %s", online.name, exc)
            self.metrics.version.labels(online.name).set(online.version)

    def stats(self, compute, ttl_s: float = 2.0) -> dict:
        """``compute()``'s stats, reused for ``ttl_s``: reading every event object per request is S3 round trips.

        This worker's own writes clear the cache (:meth:`stats_changed`), so a
        person sees their drawing counted at once; other workers' within ``ttl_s``.
        """
        now = time.monotonic()
        if self._stats_cache is None or self._stats_cache[0] <= now:
            self._stats_cache = (now + ttl_s, compute())
        return self._stats_cache[1]

    def stats_changed(self) -> None:
        self._stats_cache = None


def configure_tensorflow(threads: int) -> None:
    """One thread per op: a server runs many one-image calls at once, and splitting each tiny
    convolution across cores costs more than it saves (measured: two CNN predictions 1.3 ms
    instead of 2.2 ms, 715 instead of 541 pairs/s on 2 cores; a learning step 26 ms instead of 15)."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this process (tests build several apps)
        pass


def build_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    """Load the models, catch up with the store, warm up; slow (seconds), so done once."""
    configure_tensorflow(settings.tf_threads)
    drawings, weights = make_stores(settings)
    originals = {name: load_original(name) for name in ("fnn", "cnn")}
    lrs = {"fnn": settings.fnn_online_lr, "cnn": settings.cnn_online_lr}
    online = {f"{kind}_online": OnlineModel(f"{kind}_online", originals[kind], weights, lrs[kind])
              for kind in ("fnn", "cnn")}

    with np.load(SAMPLE_PATH) as sample:
        holdout_x, holdout_y = sample["holdout_x"].astype(np.float32) / 255, sample["holdout_y"].astype(np.int64)
        replay = ReplayBuffer(sample["replay_x"], sample["replay_y"], settings.replay_mnist, settings.replay_drawings)
    guard = HoldoutGuard(holdout_x, holdout_y, settings.guard_every, settings.guard_tolerance)
    guard.original_accuracy = {f"{kind}_online": guard.accuracy(originals[kind]) for kind in originals}

    learner = Learner(online, replay, guard, settings.keep_versions,
                      on_step=lambda name: metrics.learn_steps.labels(name).inc(),
                      on_rollback=lambda name: metrics.rollbacks.labels(name).inc())
    salt = (settings.client_salt.get_secret_value().encode() if settings.client_salt else secrets.token_bytes(16))
    runtime = Runtime(settings, drawings, weights, Recognizer(originals, online), learner, guard, metrics,
                      RateLimiter(settings.drawings_per_minute, settings.drawings_burst), salt)

    runtime.refresh_versions()
    # Listing a big S3 store the first time takes seconds: do it beside serving, not before it.
    threading.Thread(target=fill_replay, args=(replay, drawings), name="replay-warm-up", daemon=True).start()

    warm_x, warm_y = holdout_x[:48], holdout_y[:48]
    for model in (*originals.values(), *online.values()):
        model.predict_proba(warm_x[:1])
        model.predict_proba(warm_x)
    for model in online.values():
        model.warm_up(warm_x, warm_y)
    originals["cnn"].activations(warm_x[:1])
    runtime.recognizer.activations(warm_x[0])
    runtime.ready = True
    return runtime


def fill_replay(replay: ReplayBuffer, drawings: DrawingStore, n: int = 500) -> None:
    """Seed the replay buffer with the newest stored drawings people gave consent to train on."""
    try:
        records, _ = drawings.list(limit=n)
    except StorageError as exc:
        log.warning("replay buffer starts empty: %s", exc)
        return
    for record in reversed(records):
        if record.train:
            replay.add(np.frombuffer(record.input28, np.uint8).reshape(28, 28) / np.float32(255), record.label)


async def refresh_forever(runtime: Runtime) -> None:
    """Background task: pick up versions published by other workers without a restart."""
    while True:
        await asyncio.sleep(runtime.settings.refresh_seconds)
        await asyncio.to_thread(runtime.refresh_versions)
