"""The storage contract against a real S3 server (SeaweedFS), and what happens when it goes away.

One server for the whole session (the ``seaweedfs`` fixture); each test gets its own bucket.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.storage import (S3DrawingStore, S3WeightStore, StorageError, StorageUnavailable, VersionConflict,
                             make_s3_client, new_drawing_id)
from tests.test_storage_local import (MODEL, DrawingStoreContract, WeightStoreContract, make_record, png_for,
                                      publish_with_retry)
from tests.test_storage_s3_moto import S3Backend, _assert_consistent, _outage_once

pytestmark = pytest.mark.s3


class SeaweedBackend(S3Backend):
    @pytest.fixture(scope="class")
    @classmethod
    def endpoint(cls, seaweedfs):
        return seaweedfs.endpoint_url

    @pytest.fixture(scope="class")
    @classmethod
    def bucket(cls, seaweedfs):
        # One bucket per class, a fresh prefix per test: the first write into a new bucket costs ~0.2 s.
        return seaweedfs.create_bucket()


class TestSeaweedDrawingStore(SeaweedBackend, DrawingStoreContract):
    pass


class TestSeaweedWeightStore(SeaweedBackend, WeightStoreContract):
    @pytest.mark.parametrize("cut_at", ["weights answer lost", "pointer"])
    def test_our_own_cut_off_publish_is_completed_at_once(self, make_weights, monkeypatch, cut_at):
        # On a real server: the attempt's tag must survive as user metadata for the store to know its own.
        store, other = make_weights(stale_after_s=60), make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        _outage_once(store, monkeypatch, cut_at)
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {"n": 2})
        assert store._bucket.stat(f"weights/{MODEL}/00000002.npz").tag  # the tag round-trips
        with pytest.raises(VersionConflict):  # another worker still waits for it...
            other.publish(MODEL, b"other", 1, {})
        started = time.monotonic()
        assert publish_with_retry(store, MODEL, b"three", {}, deadline_s=5).version == 3  # ...its writer does not
        assert time.monotonic() - started < 5
        _assert_consistent(store, [b"one", b"two", b"three"])


def test_outage_is_unavailable_quickly_and_recovers_after_restart(seaweedfs, s3_bucket):
    client = make_s3_client(seaweedfs.endpoint_url, "us-east-1", timeout_s=2.0)
    drawings, weights = S3DrawingStore(client, s3_bucket, "x"), S3WeightStore(client, s3_bucket, "x")
    before = make_record(1)
    drawings.put(before, png_for(before.id))
    weights.publish(MODEL, b"one", 0, {})

    seaweedfs.stop()
    try:
        during = make_record(2)
        for call in (lambda: weights.current(MODEL), lambda: weights.publish(MODEL, b"two", 1, {}),
                     lambda: drawings.put(during, png_for(during.id)), lambda: drawings.list(),
                     lambda: drawings.get(before.id)):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                call()
            assert time.monotonic() - started < 10
    finally:
        seaweedfs.restart()

    # the same client and stores carry on, with nothing done by hand
    assert drawings.get(before.id) == before
    assert weights.current(MODEL).version == 1
    assert weights.publish(MODEL, b"two", 1, {}).version == 2
    drawings.put(during, png_for(during.id))
    assert [r.id for r in drawings.list()[0]] == [during.id, before.id]


def test_wrong_credentials_are_an_error_but_not_an_outage(seaweedfs, s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = S3DrawingStore(make_s3_client(seaweedfs.endpoint_url, "us-east-1"), s3_bucket, "")
    with pytest.raises(StorageError) as info:
        store.get(new_drawing_id())
    assert not isinstance(info.value, StorageUnavailable)


def test_a_child_process_reaches_the_server_with_env_alone(seaweedfs, s3_bucket):
    code = ("import sys; from service.storage import S3WeightStore, make_s3_client; "
            "store = S3WeightStore(make_s3_client(sys.argv[1], None), sys.argv[2], 'child'); "
            "print(store.publish('fnn_online', b'w', 0, {}).version)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **seaweedfs.env()}
    result = subprocess.run([sys.executable, "-c", code, seaweedfs.endpoint_url, s3_bucket], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
