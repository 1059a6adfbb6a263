"""The learner role, built from the deployment's shared parts: ``python -m service.learner`` runs it alone;
the embedded default (``INKLING_ROLE=all``) builds it beside the web wing from the same parts.

The only part of the service that imports TensorFlow (the Keras CNN learns here).
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import threading

import numpy as np

from models import load_original

from ..core.curation import ReviewStore, state_of
from ..core.lineup import KINDS
from ..core.parts import Parts, build_parts
from ..core.settings import load_settings
from ..core.storage import DrawingStore, StorageError
from ..core.tuning import configure_tensorflow, learn_dtype
from ..core.writers import WriterMemories, expire_memories
from .guard import HoldoutGuard
from .learner import Learner
from .replay import ReplayBuffer

log = logging.getLogger(__name__)
LEARNER_PACKAGES = ("tensorflow", "skimage")  # the `learner` extra: a web-only install has neither


def build_learner(parts: Parts, *, threads: int) -> Learner:
    """The learner: loaded, migrated, reconciled and warmed up, ready for ``run_forever``
    (``threads``: TensorFlow's per operation, 0 = all cores)."""
    if missing := [name for name in LEARNER_PACKAGES if importlib.util.find_spec(name) is None]:
        raise RuntimeError(f"Learning needs the learner's packages ({', '.join(missing)} missing): install them with "
                           "`pip install .[learner]` (or `scripts/install`), or run this process as a web worker "
                           "with INKLING_ROLE=web and one `python -m service.learner` elsewhere.")
    settings, alphabet, sample = parts.settings, parts.alphabet, parts.sample
    configure_tensorflow(threads)
    holdout_x, holdout_y = sample.holdout
    guard = HoldoutGuard(holdout_x, holdout_y, settings.guard_every, settings.guard_tolerance,
                         settings.guard_min_seconds)
    replay = ReplayBuffer(sample.replay_x, sample.replay_y, settings.replay_base, settings.replay_drawings)
    originals = {kind: load_original(kind, alphabet) for kind in KINDS}
    reviews = ReviewStore(parts.weights.objects)
    memories = WriterMemories(parts.weights.objects, n_classes=alphabet.n_classes, size=settings.memory_size,
                              cache_writers=0)
    memories.on_change = parts.queue.announce_memory
    learner = Learner(originals, parts.weights, parts.drawings, parts.queue, replay, guard, alphabet=alphabet,
                      tuning={"fnn": {"online_lr": settings.fnn_online_lr},
                              "cnn": {"online_lr": settings.cnn_online_lr, "step_dtype": learn_dtype(settings)}},
                      batch_max=settings.learn_batch_max, batch_seconds=settings.learn_batch_seconds,
                      keep_versions=settings.keep_versions, prune_every=settings.prune_every,
                      reconcile_seconds=settings.reconcile_seconds, metrics=parts.metrics, reviews=reviews,
                      memories=memories, embedder=load_original("cnn", alphabet, serving=True))
    learner.start()
    learner.warm_up(holdout_x[:48], holdout_y[:48])
    if settings.memory_expire_days:
        threading.Thread(target=expire_memories_forever, args=(parts, settings.memory_expire_days * 86400),
                         name="memory-expiry", daemon=True).start()
    # Listing a big S3 store the first time takes seconds: do it beside learning, not before it.
    threading.Thread(target=fill_replay, args=(replay, parts.drawings, reviews), name="replay-warm-up",
                     daemon=True).start()
    return learner


EXPIRY_EVERY_S = 3600.0


def expire_memories_forever(parts: Parts, older_than_s: float, every_s: float = EXPIRY_EVERY_S,
                            stop: threading.Event | None = None) -> None:
    """The deployment's one learner forgets writers' memories unused for ``older_than_s``, now and every
    ``every_s`` (until ``stop``), and announces each, so that every worker drops its copy."""
    stop = stop or threading.Event()
    while True:
        try:
            for key in expire_memories(parts.weights.objects, older_than_s):
                parts.queue.announce_memory(key, "expiry")
        except StorageError as exc:
            log.warning("writers' memories not expired this time: %s", exc)
        if stop.wait(every_s):
            return


def fill_replay(replay: ReplayBuffer, drawings: DrawingStore, reviews: ReviewStore, n: int = 500) -> None:
    """Seed the replay buffer with the newest stored drawings people gave consent to train on, as reviews
    leave them (none quarantined or discarded)."""
    try:
        records, _ = drawings.list(limit=n)
        reviews.refresh()
    except StorageError as exc:
        log.warning("replay buffer starts empty: %s", exc)
        return
    for record in reversed(records):
        state = state_of(record, reviews.of(record.id))
        if record.train and state.learnable:
            replay.add(np.frombuffer(record.input28, np.uint8).reshape(28, 28) / np.float32(255), state.label,
                       record.id)


def main() -> None:
    """``python -m service.learner``: the learner role of a scale-out deployment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    if not settings.queue_url:
        raise SystemExit("python -m service.learner needs INKLING_QUEUE_URL (redis://...): web workers reach it "
                         "through that queue. For one process that serves and learns, run uvicorn alone.")
    learner = build_learner(build_parts(settings), threads=settings.learner_threads)
    signal.signal(signal.SIGTERM, lambda *_: learner.stop())
    signal.signal(signal.SIGINT, lambda *_: learner.stop())
    learner.run_forever()
