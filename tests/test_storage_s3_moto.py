"""The storage contract against the S3 stores on a moto server, plus S3-only behaviour.

moto enforces IfNoneMatch / IfMatch like S3 does, and runs in-process, so this
is the quick S3 check; ``test_storage_seaweedfs.py`` repeats it on a real server.
"""

from __future__ import annotations

import inspect
import secrets
import socket
import time

import pytest

from service.core.storage import (AlreadyExists, DrawingRecord, NotFound, S3DrawingStore, S3Objects, StorageError,
                             StorageUnavailable, WeightStore, make_s3_client, new_drawing_id)
from tests.test_storage_local import (MODEL, T0, DrawingStoreContract, WeightStoreContract, WriterMemoryContract,
                                      make_record, png_for)


class S3Backend:
    """Runs a contract class on S3 stores; subclasses provide ``endpoint`` and ``bucket`` fixtures."""

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, endpoint):  # clients are slow to build (boto3 loads the S3 model): one per class
        return make_s3_client(endpoint, "us-east-1")

    @pytest.fixture
    def bucket(self, client):
        name = f"test-{secrets.token_hex(6)}"
        client.create_bucket(Bucket=name)
        return name

    @pytest.fixture
    def prefix(self):
        return f"inkling/{secrets.token_hex(4)}"

    @pytest.fixture
    def make_drawings(self, client, bucket, prefix):
        return lambda: S3DrawingStore(client, bucket, prefix)

    @pytest.fixture
    def make_weights(self, client, bucket, prefix):
        return lambda **options: WeightStore(S3Objects(client, bucket, prefix), **options)

    @pytest.fixture
    def make_objects(self, client, bucket, prefix):
        return lambda: S3Objects(client, bucket, prefix)

    @staticmethod
    def forbid_io(store, monkeypatch):
        class Untouchable:
            def __getattr__(self, name):
                raise AssertionError("the store touched S3")

        monkeypatch.setattr(store, "_bucket", Untouchable())



class MotoBackend(S3Backend):
    publishers = (4, 5)  # moto serves from this process: the full 8 x 10 runs on SeaweedFS

    @pytest.fixture(scope="class")
    @classmethod
    def endpoint(cls, moto_server):
        return moto_server


class TestMotoDrawingStore(MotoBackend, DrawingStoreContract):
    def test_prefixes_keep_stores_apart(self, client, bucket):
        stores = {prefix: S3DrawingStore(client, bucket, prefix) for prefix in ("", "a/b", "a")}
        for n, store in enumerate(stores.values()):
            record = make_record(n, label=n)
            store.put(record, png_for(record.id))
        for n, store in enumerate(stores.values()):
            assert [r.label for r in store.list()[0]] == [n]
            assert store.counts(10)[n] == 1 and sum(store.counts(10)) == 1
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
        assert any(k.startswith("drawings/") for k in keys) and any(k.startswith("a/b/drawings/") for k in keys)

    def test_a_late_commit_with_an_older_id_is_still_listed(self, make_drawings):
        reader, writer = make_drawings(), make_drawings()
        newer = make_record(10_000)  # T0 + 10 s
        writer.put(newer, png_for(newer.id))
        assert reader.list()[0] == [newer]
        older = make_record(5_000)  # minted earlier, committed later (slow put, or clock 5 s behind)
        writer.put(older, png_for(older.id))
        assert reader.list()[0] == [newer, older]

    def test_a_drawing_without_its_label_marker_is_indexed_from_its_json(self, make_drawings):
        store = make_drawings()
        record = make_record(4, label=8)
        store.put(record, png_for(record.id))
        store._bucket.client.delete_object(Bucket=store._bucket.bucket,
                                           Key=store._bucket.key(f"drawings/{record.id}.label8"))
        assert make_drawings().counts(10)[8] == 1

    def test_conflicting_label_markers_defer_to_the_json(self, make_drawings):
        store = make_drawings()
        record = make_record(4, label=8)
        store.put(record, png_for(record.id))
        with pytest.raises(AlreadyExists):  # same id and PNG, other label: dies at the JSON, marker left behind
            store.put(make_record(4, label=9, id=record.id), png_for(record.id))
        assert make_drawings().counts(10)[8:] == [1, 0]

    def test_a_missing_bucket_is_an_outage(self, client):
        store = S3DrawingStore(client, "no-such-bucket-here", "")
        with pytest.raises(StorageUnavailable):
            store.counts(10)


class TestMotoWriterMemories(MotoBackend, WriterMemoryContract):
    pass


class TestMotoWeightStore(MotoBackend, WeightStoreContract):
    pass


# --------------------------------------------------------------------------- client and outages

def test_make_s3_client_takes_no_keys_and_fails_fast():
    assert list(inspect.signature(make_s3_client).parameters) == ["endpoint_url", "region", "timeout_s"]
    client = make_s3_client("http://127.0.0.1:9", "eu-west-1", timeout_s=1.5)
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 1.5)
    assert config.retries["total_max_attempts"] <= 3
    assert config.s3["addressing_style"] == "path"
    assert client.meta.region_name == "eu-west-1"
    assert make_s3_client(None, "us-east-1").meta.endpoint_url.startswith("https://")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_unavailable_quickly(aws_env):
    client = make_s3_client(f"http://127.0.0.1:{_closed_port()}", "us-east-1", timeout_s=1.0)
    for call in (lambda: WeightStore(S3Objects(client, "b")).current(MODEL),
                 lambda: S3DrawingStore(client, "b").get(new_drawing_id()),
                 lambda: S3DrawingStore(client, "b").put(make_record(1), b"png")):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            call()
        assert time.monotonic() - started < 5


def test_a_server_that_never_answers_is_unavailable_not_a_hang(aws_env):
    with socket.socket() as silent:  # accepts connections (kernel backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        client = make_s3_client(f"http://127.0.0.1:{silent.getsockname()[1]}", "us-east-1", timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            WeightStore(S3Objects(client, "b")).current(MODEL)
        assert time.monotonic() - started < 5


def test_client_errors_that_are_not_outages(moto_server):
    client = make_s3_client(moto_server, "us-east-1")
    with pytest.raises(StorageError) as info:
        S3DrawingStore(client, "Invalid_Bucket_Name!", "").get(new_drawing_id())
    assert not isinstance(info.value, (StorageUnavailable, NotFound))


def test_records_survive_the_trip_through_s3_byte_for_byte(moto_server):
    client = make_s3_client(moto_server, "us-east-1")
    bucket = f"test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    store = S3DrawingStore(client, bucket, "p")
    record = DrawingRecord(new_drawing_id(T0), 0, "2026-11-27T15:00:00.000Z", False, "ü-client",
                           bytes(range(256)) * 3 + bytes(16), prediction={"nested": {"ok": [1, None, "é"]}},
                           versions=None)
    store.put(record, bytes(range(256)))
    assert store.get(record.id) == record and store.get_png(record.id) == bytes(range(256))
