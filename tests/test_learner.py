"""The learner: one step per drawing, one version per batch, exactly once across restarts and rivals.

Small FNNs stand in for both networks here (the learner treats every model
alike), so each test runs in well under a second; the service tests run the
real CNN.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from lab.data import load_mnist
from models.alphabets import load_alphabet
from models.fnn import FNN
from service.learn.guard import HoldoutGuard
from service.learn.learner import Learner
from service.core.queue import Lesson, MemoryQueue
from service.learn.replay import ReplayBuffer
from service.core.storage import (DrawingRecord, LocalDrawingStore, LocalObjects, StorageUnavailable, WeightStore,
                             new_drawing_id)

MODELS = ("fnn_online", "cnn_online")


@pytest.fixture(scope="module")
def mnist():
    X, y = load_mnist("test")
    return X.astype(np.float32) / 255, y.astype(np.int64)


@pytest.fixture(scope="module")
def originals(mnist):
    X, y = mnist
    fnn = FNN(n_classes=10, n_hidden=32, seed=0, online_lr=0.05).fit(X[:3000], y[:3000], epochs=2)
    return {"fnn": fnn, "cnn": FNN.from_bytes(fnn.to_bytes())}


def make_learner(tmp_path, originals, mnist, queue, *, lr=0.05, every=10, **options) -> Learner:
    X, y = mnist
    guard = HoldoutGuard(X[-1000:], y[-1000:], every=every, tolerance=0.01, min_seconds=0)
    replay = ReplayBuffer((X[5000:5500] * 255).astype(np.uint8), y[5000:5500], n_base=8, n_drawings=4)
    learner = Learner(originals, WeightStore(LocalObjects(tmp_path)), LocalDrawingStore(tmp_path), queue, replay,
                      guard, alphabet=load_alphabet("digits"), tuning={"fnn": {"online_lr": lr}, "cnn": {"online_lr": lr}},
                      **options)
    learner.start()
    return learner


def lesson(mnist, i: int, label: int | None = None, at: datetime | None = None) -> Lesson:
    X, y = mnist
    return Lesson(new_drawing_id(at), int(y[i] if label is None else label), np.round(X[i] * 255).astype(np.uint8).tobytes())


def learned_drawings(store: WeightStore, model: str) -> list[str]:
    return [d for record in store.history(model) for d in record.drawings]


def drain(learner: Learner) -> None:
    while learner.run_once(block_s=0):
        pass


def test_one_step_per_drawing_one_version_per_batch(tmp_path, originals, mnist):
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue, batch_max=8)
    lessons = [lesson(mnist, i) for i in range(20)]
    for item in lessons:
        queue.add(item)
    drain(learner)
    for model in MODELS:
        history = learner.store.history(model)
        assert [len(r.drawings) for r in history] == [8, 8, 4]  # group commit
        assert learned_drawings(learner.store, model) == [item.drawing_id for item in lessons]  # in queue order
        assert [r.steps for r in history] == [8, 16, 20]
    assert queue.depth() == 0  # trimmed: every entry is in a published version


def test_a_batch_ends_after_its_time_bound(tmp_path, originals, mnist):
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue, batch_max=100, batch_seconds=1e-9)
    for i in range(3):
        queue.add(lesson(mnist, i))
    assert learner.run_once(block_s=0) == 1  # stepping took longer than the bound: publish after one
    drain(learner)
    assert [len(r.drawings) for r in learner.store.history("cnn_online")] == [1, 1, 1]


def test_a_restarted_learner_never_learns_a_drawing_twice(tmp_path, originals, mnist):
    queue = MemoryQueue()
    first = make_learner(tmp_path, originals, mnist, queue, batch_max=4)
    items = [lesson(mnist, i) for i in range(6)]
    for item in items:
        queue.add(item)
    first.run_once(block_s=0)  # 4 learned and published; 2 still queued
    queue.add(items[0])  # delivered again (a web worker's retry, or reconciliation)
    second = make_learner(tmp_path, originals, mnist, queue, batch_max=4)  # the restart
    drain(second)
    for model in MODELS:
        assert sorted(learned_drawings(second.store, model)) == sorted(i.drawing_id for i in items)
        assert second.store.current(model).steps == 6


def test_two_learners_by_mistake_lose_nothing_and_learn_nothing_twice(tmp_path, originals, mnist):
    queue = MemoryQueue()
    learners = [make_learner(tmp_path, originals, mnist, queue, batch_max=3) for _ in range(2)]
    items = [lesson(mnist, i) for i in range(60)]

    def feed():
        for item in items:
            queue.add(item)

    feeder = threading.Thread(target=feed)
    feeder.start()
    stop = threading.Event()
    errors = []

    def run(learner):
        try:
            while not stop.is_set():
                learner.run_once(block_s=0.05)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(learner,)) for learner in learners]
    for t in threads:
        t.start()
    feeder.join()
    deadline = datetime.now() + timedelta(seconds=30)
    store = learners[0].store
    while any(len(learned_drawings(store, m)) < len(items) for m in MODELS) and datetime.now() < deadline:
        threading.Event().wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    for model in MODELS:
        learned = learned_drawings(store, model)
        assert sorted(learned) == sorted(i.drawing_id for i in items)  # each exactly once
        history = store.history(model)
        assert [r.version for r in history] == list(range(1, len(history) + 1))
        assert store.current(model).steps == len(items)


def test_reconciliation_learns_what_the_queue_lost(tmp_path, originals, mnist):
    drawings = LocalDrawingStore(tmp_path)
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    lost = [lesson(mnist, i, at=an_hour_ago + timedelta(seconds=i)) for i in range(3)]
    for n, item in enumerate(lost):  # stored with consent (the last without), never enqueued: the queue was down
        drawings.put(DrawingRecord(item.drawing_id, item.label, "2026-11-30T00:00:00.000Z", n < 2, "c",
                                   item.input28), b"png")
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue, reconcile_seconds=60)  # start() reconciles
    drain(learner)
    for model in MODELS:
        assert learned_drawings(learner.store, model) == [lost[0].drawing_id, lost[1].drawing_id]
    assert learner.reconcile() == 0  # nothing left to do, and nothing learned twice
    assert make_learner(tmp_path, originals, mnist, MemoryQueue()).reconcile() == 0  # a restart knows it too


def test_a_failed_publish_keeps_the_drawings_queued(tmp_path, originals, mnist, monkeypatch):
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue)
    items = [lesson(mnist, i) for i in range(3)]
    for item in items:
        queue.add(item)
    real = learner.store.objects.put_if_match

    def down(*args):
        raise StorageUnavailable("S3 is down")

    monkeypatch.setattr(learner.store.objects, "put_if_match", down)
    learner.run_once(block_s=0)
    assert learner.store.current("cnn_online") is None and queue.depth() == 3
    monkeypatch.setattr(learner.store.objects, "put_if_match", real)
    drain(learner)
    for model in MODELS:
        assert learned_drawings(learner.store, model) == [i.drawing_id for i in items]
        assert learner.store.current(model).steps == 3


def test_the_guard_publishes_a_rollback_instead_of_a_vandals_batch(tmp_path, originals, mnist):
    X, y = mnist
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue, lr=0.5, every=5, batch_max=5)
    ones = np.flatnonzero(y[5000:] == 1)[:30] + 5000
    for i in ones:  # every 1 labelled 7, at a reckless learning rate
        queue.add(lesson(mnist, int(i), label=7))
    drain(learner)
    history = learner.store.history("fnn_online")
    rollbacks = [r for r in history if r.meta.get("reason") == "rollback"]
    assert rollbacks, "the guard never fired"
    assert all(r.meta["rejected_accuracy"] < learner.tracks["fnn_online"].baseline - 0.01 for r in rollbacks)
    head_model = FNN.from_bytes(learner.store.load("fnn_online", history[-1].version))
    assert learner.guard.accuracy(head_model) >= learner.tracks["fnn_online"].baseline - 0.01
    assert learned_drawings(learner.store, "fnn_online") == [d for r in history for d in r.drawings]
    assert len(learned_drawings(learner.store, "fnn_online")) == len(ones)  # consumed once, even if undone


def test_an_admin_rollback_meanwhile_is_read_on_from(tmp_path, originals, mnist):
    queue = MemoryQueue()
    learner = make_learner(tmp_path, originals, mnist, queue, batch_max=2)
    items = [lesson(mnist, i) for i in range(4)]
    for item in items[:2]:
        queue.add(item)
    drain(learner)
    store, head = learner.store, learner.store.current("cnn_online")
    store.publish("cnn_online", store.load("cnn_online", 1), head.version,  # what WeightStore.restore publishes
                  {"reason": "rollback", "to": 1, "steps": head.steps, "position": head.meta["position"]})
    for item in items[2:]:
        queue.add(item)
    drain(learner)
    assert learned_drawings(store, "cnn_online") == [i.drawing_id for i in items]
    assert [r.meta.get("reason") for r in store.history("cnn_online")] == ["learn", "rollback", "learn"]


@pytest.mark.parametrize("learn_dtype", ["float32", "bfloat16"])
def test_the_learner_steps_the_cnn_in_the_configured_precision(tmp_path, learn_dtype):
    """INKLING_LEARN_DTYPE reaches the online CNN's training copy (and only its step: the weights stay float32)."""
    from service.core.parts import build_parts
    from service.core.settings import Settings
    from service.learn.build import build_learner

    settings = Settings(data_dir=tmp_path, learn_dtype=learn_dtype)
    learner = build_learner(build_parts(settings), threads=settings.tf_threads)
    cnn = learner.tracks["cnn_online"].model
    assert cnn.step_dtype == learn_dtype
    assert cnn.online_lr == Settings().cnn_online_lr
    assert all(w.dtype == np.float32 for w in cnn.get_weights())
