"""The storage contract against a real S3 server (SeaweedFS), and what happens when it goes away.

One server for the whole session (the ``seaweedfs`` fixture); each test gets its own bucket.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.core.storage import (S3DrawingStore, S3Objects, StorageError, StorageUnavailable, WeightStore, make_s3_client,
                             new_drawing_id)
from tests.test_storage_local import (MODEL, DrawingStoreContract, WeightStoreContract, WriterMemoryContract, make_record,
                                      png_for)
from tests.test_storage_s3_moto import S3Backend

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


class TestSeaweedWriterMemories(SeaweedBackend, WriterMemoryContract):
    pass


class TestSeaweedWeightStore(SeaweedBackend, WeightStoreContract):
    pass


def test_outage_is_unavailable_quickly_and_recovers_after_restart(seaweedfs, s3_bucket):
    client = make_s3_client(seaweedfs.endpoint_url, "us-east-1", timeout_s=2.0)
    drawings, weights = S3DrawingStore(client, s3_bucket, "x"), WeightStore(S3Objects(client, s3_bucket, "x"))
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
    code = ("import sys; from service.core.storage import S3Objects, WeightStore, make_s3_client; "
            "store = WeightStore(S3Objects(make_s3_client(sys.argv[1], None), sys.argv[2], 'child')); "
            "print(store.publish('fnn_online', b'w', 0, {}).version)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **seaweedfs.env()}
    result = subprocess.run([sys.executable, "-c", code, seaweedfs.endpoint_url, s3_bucket], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
