"""Online models: versioned steps, no lost updates between workers, the guard rolls back damage."""

import threading

import numpy as np
import pytest

from models import augment, load_mnist
from models.fnn import FNN
from service.guard import HoldoutGuard
from service.online import OnlineModel
from service.storage import LocalWeightStore


@pytest.fixture(scope="module")
def mnist():
    X, y = load_mnist("test")
    return X.astype(np.float32) / 255, y.astype(np.int64)


@pytest.fixture(scope="module")
def original(mnist):
    X, y = mnist
    return FNN(n_hidden=64, seed=0, online_lr=0.05).fit(X[:5000], y[:5000], epochs=3)


def test_each_step_is_a_new_persisted_version(tmp_path, original, mnist):
    X, y = mnist
    store = LocalWeightStore(tmp_path)
    online = OnlineModel("fnn_online", original, store)
    assert online.version == 0
    for i in range(3):
        published = online.learn_one(X[i * 24 : (i + 1) * 24], y[i * 24 : (i + 1) * 24], {"drawing": str(i)})
        assert published.version == i + 1 and published.steps == i + 1
    # A fresh worker (or a restart) resumes from exactly the published weights.
    restarted = OnlineModel("fnn_online", original, store)
    assert restarted.sync() and restarted.version == 3
    np.testing.assert_array_equal(restarted.predict_proba(X[:50]), online.predict_proba(X[:50]))
    assert [p.version for p in store.history("fnn_online")] == [1, 2, 3]


def test_original_is_untouched_by_learning(tmp_path, original, mnist):
    X, y = mnist
    before = original.predict_proba(X[:20])
    OnlineModel("fnn_online", original, LocalWeightStore(tmp_path)).learn_one(X[:24], (y[:24] + 1) % 10)
    np.testing.assert_array_equal(original.predict_proba(X[:20]), before)


def test_two_workers_never_lose_an_update(tmp_path, original, mnist):
    """Two workers share one store and learn concurrently: every step lands, in one unbroken line."""
    X, y = mnist
    store = LocalWeightStore(tmp_path)
    workers = [OnlineModel("fnn_online", original, store) for _ in range(2)]

    def run(worker, offset):
        for i in range(15):
            k = offset + i
            worker.learn_one(X[k * 24 : (k + 1) * 24], y[k * 24 : (k + 1) * 24])

    threads = [threading.Thread(target=run, args=(w, 100 * n)) for n, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = store.history("fnn_online")
    assert [p.version for p in history] == list(range(1, 31))
    assert [p.meta["steps"] for p in history] == list(range(1, 31))
    assert max(w.version for w in workers) == 30


def test_concurrent_steps_in_one_worker_are_serialised(tmp_path, original, mnist):
    X, y = mnist
    store = LocalWeightStore(tmp_path)
    online = OnlineModel("fnn_online", original, store)
    threads = [threading.Thread(target=online.learn_one, args=(X[i * 24 : (i + 1) * 24], y[i * 24 : (i + 1) * 24]))
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert online.version == 20 and online.steps == 20


def test_guard_rolls_back_vandalism(tmp_path, original, mnist):
    X, y = mnist
    store = LocalWeightStore(tmp_path)
    online = OnlineModel("fnn_online", original, store, online_lr=0.5)
    guard = HoldoutGuard(X[:1000], y[:1000], every=5, tolerance=0.01)
    guard.original_accuracy = {"fnn_online": guard.accuracy(original)}
    rollbacks = []
    ones = X[5000:][y[5000:] == 1]
    for i in range(20):  # every 1 labelled 7, 24 variants at a time, at a reckless learning rate
        online.learn_one(augment(ones[i]), np.full(24, 7))
        if guard.due(online.steps):
            guard.check(online, on_rollback=rollbacks.append)
    assert rollbacks, "the guard never fired"
    assert guard.accuracy(online.serving) >= guard.original_accuracy["fnn_online"] - 0.01
    kinds = [e["kind"] for e in store.events("fnn_online")]
    assert "rollback" in kinds and kinds.count("evaluation") == 4
    versions = [p.version for p in store.history("fnn_online")]
    assert versions == list(range(1, len(versions) + 1))  # rollbacks add versions, never rewind them


def test_rollback_to_the_original(tmp_path, original, mnist):
    X, y = mnist
    online = OnlineModel("fnn_online", original, LocalWeightStore(tmp_path))
    online.learn_one(X[:24], (y[:24] + 3) % 10)
    assert not np.array_equal(online.predict_proba(X[:10]), original.predict_proba(X[:10]))
    published = online.rollback(0, reason="test")
    assert published.version == 2
    np.testing.assert_array_equal(online.predict_proba(X[:10]), original.predict_proba(X[:10]))
    with pytest.raises(ValueError):
        online.rollback(99, reason="no such version")
