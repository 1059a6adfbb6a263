"""Everything a running process holds, built once from :class:`Settings` at start-up.

Two roles, one set of parts. The **web** role stores drawings, enqueues them
and serves predictions from the versions the learner publishes; the
**learner** role (:mod:`service.learner`) learns. The embedded default
(``INKLING_ROLE=all``) is simply both in one process, sharing an in-process
queue: the same code paths as a scale-out deployment, not a third design.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models import load_original
from models.alphabets import Alphabet, load_alphabet
from models.prototypes import PrototypeMemory

from .guard import HoldoutGuard
from .limits import RateLimiter, TokenBucket
from .metrics import Metrics
from .online import OnlineModel, VersionFollower
from .queue import LearnQueue, make_queue
from .recognizer import Recognizer
from .replay import ReplayBuffer
from .settings import Settings
from .storage import (DrawingRecord, DrawingStore, LocalDrawingStore, LocalObjects, NotFound, S3DrawingStore, S3Objects,
                      StorageError, VersionConflict, WeightStore, WeightVersion, make_s3_client)

from .storage.base import check_drawing_id
from .writers import WriterMemories

if TYPE_CHECKING:  # the learner (and TensorFlow with it) is imported only where it runs
    from .learner import Learner

log = logging.getLogger(__name__)

KINDS = ("fnn", "cnn")
STATS_HISTORY = 500  # newest evaluations and rollbacks per model in /api/stats
STATS_VERSIONS = 1000  # versions read back for them (records are cached: read once)
PAGE_READS = 10  # store pages read at most to fill one page of consented drawings


def make_stores(settings: Settings) -> tuple[DrawingStore, WeightStore]:
    if settings.storage == "s3":
        client = make_s3_client(settings.s3_endpoint_url, settings.s3_region, settings.s3_timeout_s)
        drawings, objects = (S3DrawingStore(client, settings.s3_bucket, settings.s3_prefix),
                             S3Objects(client, settings.s3_bucket, settings.s3_prefix))
    else:
        drawings, objects = LocalDrawingStore(Path(settings.data_dir)), LocalObjects(settings.data_dir)
    return drawings, WeightStore(objects, grace_s=settings.prune_grace_seconds)


def make_learn_queue(settings: Settings) -> LearnQueue:
    url = settings.queue_url.get_secret_value() if settings.queue_url else None
    return make_queue(url, settings.queue_name)


def load_guard(originals: dict, settings: Settings) -> tuple[HoldoutGuard, ReplayBuffer]:
    """The holdout guard (with each original's accuracy) and the replay buffer, from the alphabet's shipped sample."""
    with np.load(load_alphabet(settings.alphabet).sample) as sample:
        holdout_x, holdout_y = sample["holdout_x"].astype(np.float32) / 255, sample["holdout_y"].astype(np.int64)
        replay = ReplayBuffer(sample["replay_x"], sample["replay_y"], settings.replay_mnist, settings.replay_drawings)
    guard = HoldoutGuard(holdout_x, holdout_y, settings.guard_every, settings.guard_tolerance,
                         settings.guard_min_seconds)
    guard.original_accuracy = {f"{kind}_online": guard.accuracy(originals[kind]) for kind in originals}
    return guard, replay


@dataclass
class Runtime:
    settings: Settings
    drawings: DrawingStore
    weights: WeightStore
    queue: LearnQueue
    recognizer: Recognizer
    follower: VersionFollower
    guard: HoldoutGuard
    metrics: Metrics
    limiter: RateLimiter
    predict_limiter: TokenBucket
    salt: bytes
    memories: WriterMemories
    alphabet: Alphabet
    learner: Learner | None = None
    ready: bool = False
    inference: ThreadPoolExecutor | None = None  # None: CPU work runs on the event loop itself
    _stats_cache: tuple[float, dict] | None = field(default=None, repr=False)

    @property
    def online(self) -> dict[str, OnlineModel]:
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

    def list_drawings(self, label: int | None, limit: int, cursor: str | None,
                      private: bool = False) -> tuple[list, str | None]:
        """A page of stored drawings, newest first: those given with consent, or with ``private`` all.

        Drawings sent with ``train: false`` were given to be recognised, not to be
        shown to others; pages skip them and still come full while more exist
        (reading at most ``PAGE_READS`` pages of the store for one).
        """
        records, next_cursor = self.drawings.list(label, limit, cursor)
        if private:
            return records, next_cursor
        shown = [r for r in records if r.train]
        for _ in range(PAGE_READS - 1):
            if len(shown) >= limit or next_cursor is None:
                break
            more, next_cursor = self.drawings.list(label, limit, next_cursor)
            shown += [r for r in more if r.train]
        if len(shown) > limit:
            shown, next_cursor = shown[:limit], shown[limit - 1].id
        return shown, next_cursor

    def visible_drawing(self, drawing_id: str, private: bool = False) -> DrawingRecord:
        """A stored drawing's record; one sent without consent is NotFound unless ``private`` (the admin)."""
        record = self.drawings.get(check_drawing_id(drawing_id))
        if not record.train and not private:
            raise NotFound(f"no drawing {drawing_id}")
        return record

    def client_id(self, address: str) -> str:
        """A salted hash: lets us group one person's drawings without storing their address."""
        return hashlib.sha256(self.salt + address.encode()).hexdigest()[:16]

    def stats(self, ttl_s: float = 2.0) -> dict:
        """:meth:`compute_stats`, reused for ``ttl_s`` (each call lists the store and reads records).

        This worker's own writes clear the cache (:meth:`stats_changed`), so a
        person sees their drawing counted at once; other workers' within ``ttl_s``.
        """
        now = time.monotonic()
        if self._stats_cache is None or self._stats_cache[0] <= now:
            self._stats_cache = (now + ttl_s, self.compute_stats())
        return self._stats_cache[1]

    def stats_changed(self) -> None:
        self._stats_cache = None

    def compute_stats(self) -> dict:
        counts = (self.drawings.counts() + [0] * self.alphabet.n_classes)[:self.alphabet.n_classes]
        online = {}
        for name, model in self.online.items():
            records = self.weights.history(name, since=model.version - STATS_VERSIONS) if model.version else []
            online[name] = {
                "version": model.version, "steps": model.steps,
                "original_accuracy": round(self.guard.original_accuracy[name], 4),
                "history": [{"version": r.version, "step": r.steps, "holdout_accuracy": r.meta["holdout_accuracy"],
                             "time": r.created} for r in records
                            if r.meta.get("holdout_accuracy") is not None][-STATS_HISTORY:],
                "rollbacks": [{"from_version": r.version - 1, "to_version": r.meta.get("to", 0),
                               "new_version": r.version, "time": r.created}
                              for r in records if r.meta.get("reason") == "rollback"][-STATS_HISTORY:],
            }
        return {"counts": counts, "total": sum(counts), "online": online}

    def rollback(self, name: str, to_version: int, why: str) -> WeightVersion:
        """Publish the weights of ``to_version`` as a new version of ``name`` (versions never go backwards).

        The new version carries the queue position and reconciliation mark of the
        one it replaces, so the learner, whose next publish now conflicts, reloads
        it and reads on from there: nothing is skipped or learned twice.
        """
        model = self.online[name]
        if to_version:
            model.read(to_version)  # NotFound, or CorruptObject: never publish weights nobody can serve
        for _ in range(10):
            head = self.weights.current(name)
            at = head.version if head else 0
            if not 0 <= to_version <= at:
                raise NotFound(f"{name} has no version {to_version} (newest is {at})")
            carried = {k: head.meta.get(k) for k in ("position", "reconciled_to")} if head else {}
            meta = {"reason": "rollback", "to": to_version, "why": why, "steps": head.steps if head else 0,
                    "drawings": [], **carried}
            try:
                record = self.weights.publish(name, model.weights_at(to_version), at, meta)
                break
            except VersionConflict:
                continue
        else:
            raise StorageError(f"{name}: the learner kept publishing; try the rollback again")
        self.queue.announce(name, record.version)
        self.follower.refresh()
        return record


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


def learn_dtype(settings: Settings) -> str:
    """The CNN's online step precision: ``settings.learn_dtype``, where "auto" means bfloat16 if the CPU has it."""
    if settings.learn_dtype != "auto":
        return settings.learn_dtype
    return "bfloat16" if cpu_has_bfloat16() else "float32"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX; Linux only, else False)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_learner(settings: Settings, metrics: Metrics | None = None, *, stores=None, queue=None,
                  guard=None, replay=None) -> Learner:
    """The learner role: loaded, migrated, reconciled and warmed up, ready for ``run_forever``.

    The only part of the service that imports TensorFlow (the Keras CNN learns here).
    """
    try:
        from .learner import Learner
    except ImportError as exc:  # a web-only install (`pip install .`, `scripts/install --web`)
        raise RuntimeError(f"Learning needs the learner's packages ({exc.name} is missing): install them with "
                           "`pip install .[learner]` (or `scripts/install`), or run this process as a web worker "
                           "with INKLING_ROLE=web and one `python -m service.learner` elsewhere.") from exc

    configure_tensorflow(settings.tf_threads if stores else settings.learner_threads)
    drawings, weights = stores or make_stores(settings)
    originals = {kind: load_original(kind, alphabet=settings.alphabet) for kind in KINDS}
    if guard is None or replay is None:
        guard, replay = load_guard(originals, settings)
    learner = Learner(originals, weights, drawings, queue or make_learn_queue(settings), replay, guard,
                      tuning={"fnn": {"online_lr": settings.fnn_online_lr},
                              "cnn": {"online_lr": settings.cnn_online_lr, "step_dtype": learn_dtype(settings)}},
                      batch_max=settings.learn_batch_max, batch_seconds=settings.learn_batch_seconds,
                      keep_versions=settings.keep_versions, prune_every=settings.prune_every,
                      reconcile_seconds=settings.reconcile_seconds, box=load_alphabet(settings.alphabet).box,
                      metrics=metrics)
    learner.start()
    learner.warm_up(guard.X[:48], guard.y[:48])
    # Listing a big S3 store the first time takes seconds: do it beside learning, not before it.
    threading.Thread(target=fill_replay, args=(replay, drawings), name="replay-warm-up", daemon=True).start()
    return learner


def build_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    """The web role (and, with ``role=all``, the learner beside it); done once, at start-up.

    The web role predicts with the serving twins of the models (no TensorFlow);
    only the learner, embedded or on its own, loads the Keras CNN.
    """
    drawings, weights = make_stores(settings)
    queue = make_learn_queue(settings)
    alphabet = load_alphabet(settings.alphabet)
    originals = {kind: load_original(kind, serving=True, alphabet=alphabet) for kind in KINDS}
    for kind in KINDS:
        weights.migrate(f"{kind}_online")
    online = {f"{kind}_online": OnlineModel(f"{kind}_online", originals[kind], weights) for kind in KINDS}
    guard, replay = load_guard(originals, settings)
    follower = VersionFollower(online, settings.refresh_seconds)
    follower.on_version = lambda name, version: (metrics.version.labels(name).set(version),
                                                 metrics.steps.labels(name).set(online[name].steps))
    follower.on_corrupt = lambda name: metrics.corrupt_versions.labels(name).inc()
    salt = (settings.client_salt.get_secret_value().encode() if settings.client_salt else secrets.token_bytes(16))
    # Writers' memories live in the deployment's store beside the weights (writers/<key>.json).
    memories = WriterMemories(weights.objects, size=settings.memory_size, cache_writers=settings.memory_cache_writers,
                              ttl_s=settings.memory_ttl_seconds, n_classes=alphabet.n_classes)
    memories.on_change = queue.announce_memory
    queue.subscribe_memories(memories.changed)
    learner = None
    if settings.role == "all":
        learner = build_learner(settings, metrics, stores=(drawings, weights), queue=queue, guard=guard,
                                replay=replay)
    runtime = Runtime(settings, drawings, weights, queue, Recognizer(originals, online, alphabet), follower, guard, metrics,
                      RateLimiter(settings.drawings_per_minute, settings.drawings_burst,
                                  settings.queue_url.get_secret_value() if settings.queue_url else "memory://",
                                  settings.queue_name),
                      # Per process, in memory: a shared count would cost every prediction a Redis round trip.
                      TokenBucket(settings.predictions_per_minute, settings.predictions_burst), salt, memories, alphabet,
                      learner,
                      inference=ThreadPoolExecutor(settings.inference_threads, "inference")
                      if settings.inference_threads else None)
    metrics.watch_queue(queue)
    queue.subscribe(follower.poke)
    follower.refresh()

    warm_x = guard.X[:48]
    for model in (*originals.values(), *(m.serving for m in online.values())):
        model.predict_proba(warm_x[:1])
        model.predict_proba(warm_x)
    originals["cnn"].activations(warm_x[:1])
    runtime.recognizer.activations(warm_x[0])

    runtime.ready = True
    return runtime


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc_for_serving(arenas: int = 2, mmap_threshold: int = 1 << 20, trim_threshold: int = 8 << 20) -> None:
    """Make glibc give memory back: a serving process's resident size then tracks what it uses.

    By default glibc keeps up to 8 arenas a core (one per thread that allocates)
    and, once a big block is freed, raises the size above which it maps blocks
    of their own (up to 32 MB), so later big temporaries (a batch of feature
    maps) land in the arenas and stay there. Measured on a web worker: 139 MB
    resident after start-up by default, ~100 MB with 2 arenas and blocks of
    1 MB or more always mapped (and unmapped when freed). But a fixed mapping
    threshold also fixes the size of free memory above which an arena is
    trimmed at 128 KB, and one prediction's temporaries are more: each was
    given back to the kernel and faulted in again by the next (~250 page faults,
    ~1 ms of a web worker's ~3.8 ms a request). Arenas keep up to ``trim_threshold``
    free (8 MB: 0 faults, the same resident size). Call it before threads
    start. Elsewhere (musl, macOS) it does nothing.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    except (OSError, AttributeError):
        pass


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
