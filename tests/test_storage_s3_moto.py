"""The storage contract against the S3 stores on a moto server, plus S3-only behaviour.

moto enforces IfNoneMatch / IfMatch like S3 does, and runs in-process, so this
is the quick S3 check; ``test_storage_seaweedfs.py`` repeats it on a real server.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import secrets
import socket
import threading
import time

import pytest

from service.storage import (AlreadyExists, DrawingRecord, NotFound, S3DrawingStore, S3WeightStore, StorageError,
                             StorageUnavailable, VersionConflict, make_s3_client, new_drawing_id)
from tests.test_storage_local import (MODEL, T0, DrawingStoreContract, WeightStoreContract, make_record, png_for,
                                      publish_with_retry)


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
        return lambda **options: S3WeightStore(client, bucket, prefix, **options)

    @staticmethod
    def forbid_io(store, monkeypatch):
        class Untouchable:
            def __getattr__(self, name):
                raise AssertionError("the store touched S3")

        monkeypatch.setattr(store, "_bucket", Untouchable())

    @staticmethod
    def write_raw(store, name, data):
        store._bucket.put(name, data)


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
            assert store.counts()[n] == 1 and sum(store.counts()) == 1
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
        assert make_drawings().counts()[8] == 1

    def test_conflicting_label_markers_defer_to_the_json(self, make_drawings):
        store = make_drawings()
        record = make_record(4, label=8)
        store.put(record, png_for(record.id))
        with pytest.raises(AlreadyExists):  # same id and PNG, other label: dies at the JSON, marker left behind
            store.put(make_record(4, label=9, id=record.id), png_for(record.id))
        assert make_drawings().counts()[8:] == [1, 0]

    def test_a_missing_bucket_is_an_outage(self, client):
        store = S3DrawingStore(client, "no-such-bucket-here", "")
        with pytest.raises(StorageUnavailable):
            store.counts()


class TestMotoWeightStore(MotoBackend, WeightStoreContract):
    def test_a_young_leftover_is_someone_elses_live_attempt(self, make_weights):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        self.write_raw(store, f"weights/{MODEL}/00000002.npz", b"being published right now")
        with pytest.raises(VersionConflict):
            store.publish(MODEL, b"two", 1, {})
        assert store.current(MODEL).version == 1

    def test_an_old_leftover_under_a_young_fence_is_another_takeover_under_way(self, make_weights, monkeypatch):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        self.write_raw(store, f"weights/{MODEL}/00000002.npz", b"left over long ago")
        _leftovers_look_abandoned(store, monkeypatch)
        fence = {**store.current(MODEL).to_json(), "fence": "someone else's"}
        self.write_raw(store, f"weights/{MODEL}/current.json", json.dumps(fence).encode())
        with pytest.raises(VersionConflict):
            store.publish(MODEL, b"two", 1, {})
        assert store._read_pointer(MODEL).fence_age_s is not None  # their fence still stands

    def test_a_stale_pointer_read_cannot_reuse_a_pruned_version_number(self, make_weights, monkeypatch):
        late, others = make_weights(), make_weights()
        late.publish(MODEL, b"w1", 0, {})
        read_long_ago = late._read_pointer(MODEL)  # `late` reads the pointer (v1), then stalls...
        for v in range(2, 6):  # ...while others publish 2-5 and prune the weights of 1-4
            others.publish(MODEL, b"w%d" % v, v - 1, {})
        assert others.prune(MODEL, keep_last=1, keep=set()) == 4
        history = others.history(MODEL)
        monkeypatch.setattr(late, "_read_pointer", lambda model: read_long_ago)
        with pytest.raises(VersionConflict):  # v2's weights are gone, so creating them again succeeds...
            late.publish(MODEL, b"late", 1, {})
        assert others.history(MODEL) == history  # ...but v2's metadata must not be rewritten
        assert others.current(MODEL).version == 5
        with pytest.raises(NotFound):  # and the weights it created are removed again
            others.load(MODEL, 2)

    def test_a_fence_on_a_model_never_published_reads_as_nothing(self, store):
        # what a takeover of version 1 leaves if it dies right after fencing
        fence = {"model": MODEL, "version": 0, "fence": "f00d"}
        self.write_raw(store, f"weights/{MODEL}/current.json", json.dumps(fence).encode())
        assert store.current(MODEL) is None and store.history(MODEL) == []
        fenced = store._read_pointer(MODEL)
        assert fenced.version == 0 and fenced.fence_age_s is not None and fenced.etag
        assert store.publish(MODEL, b"one", 0, {}).version == 1  # CAS from the fence's ETag
        assert store.load(MODEL, 1) == b"one"

    def test_a_stalled_publisher_gives_up_instead_of_clobbering_a_takeover(self, make_weights, monkeypatch):
        stalled, taker = make_weights(stale_after_s=1.0), make_weights(stale_after_s=1.0)
        stalled.publish(MODEL, b"one", 0, {})
        paused, resume = threading.Event(), threading.Event()
        real_put = stalled._bucket.put

        def put_then_stall(name, body, **conditions):
            etag = real_put(name, body, **conditions)
            if name.endswith("00000002.npz"):  # e.g. a long GC pause right after creating the weights
                paused.set()
                resume.wait(30)
            return etag

        monkeypatch.setattr(stalled._bucket, "put", put_then_stall)
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(_attempt(stalled.publish, MODEL, b"stale", 1, {})))
        thread.start()
        assert paused.wait(10)
        _leftovers_look_abandoned(taker, monkeypatch)  # as if the pause had lasted past stale_after_s
        pointer = publish_with_retry(taker, MODEL, b"taker", {"who": "taker"}, deadline_s=10)
        time.sleep(stalled._lease_s)  # the pause outlasts the stalled publisher's lease too
        resume.set()
        thread.join(10)
        assert isinstance(outcome[0], StorageUnavailable)  # its lease ran out: it wrote nothing more
        assert pointer.version == 2 and taker.current(MODEL) == pointer
        assert taker.publish(MODEL, b"three", 2, {}).version == 3
        assert taker.history(MODEL)[1] == pointer and taker.load(MODEL, 2) == b"taker"

    def test_a_fence_stops_a_pointer_move_already_under_way(self, make_weights, monkeypatch):
        slow, taker = make_weights(stale_after_s=1.0), make_weights(stale_after_s=1.0)
        slow.publish(MODEL, b"one", 0, {})
        monkeypatch.setattr(slow, "_check_lease", lambda started, model: None)  # passed it, then got delayed
        at_cas, slow_go, taker_at_cas, taker_go = (threading.Event() for _ in range(4))

        def pausing_put(real_put, arrived, go):
            def put(name, body, **conditions):
                if name.endswith("current.json") and b"fence" not in body:
                    arrived.set()
                    go.wait(30)
                return real_put(name, body, **conditions)
            return put

        monkeypatch.setattr(slow._bucket, "put", pausing_put(slow._bucket.put, at_cas, slow_go))
        monkeypatch.setattr(taker._bucket, "put", pausing_put(taker._bucket.put, taker_at_cas, taker_go))
        results = {}
        slow_thread = threading.Thread(
            target=lambda: results.setdefault("slow", _attempt(slow.publish, MODEL, b"slow", 1, {})))
        taker_thread = threading.Thread(
            target=lambda: results.setdefault("taker", _attempt(publish_with_retry, taker, MODEL, b"taker", {}, 10)))
        slow_thread.start()
        assert at_cas.wait(10)  # slow wrote weights and metadata, its CAS is "in flight"
        _leftovers_look_abandoned(taker, monkeypatch)
        taker_thread.start()
        assert taker_at_cas.wait(10)  # taker fenced the pointer and overwrote both
        assert slow.current(MODEL).version == 1 and slow._read_pointer(MODEL).fence_age_s is not None
        slow_go.set()
        slow_thread.join(10)
        taker_go.set()
        taker_thread.join(10)
        assert isinstance(results["slow"], VersionConflict)
        assert results["taker"].version == 2
        assert taker.load(MODEL, 2) == b"taker" and taker.history(MODEL)[1] == results["taker"]

    # -- a publish of our own cut off by an outage after its weights object (see S3WeightStore.publish)

    @pytest.mark.parametrize("cut_at", ["weights answer lost", "metadata", "pointer"])
    def test_our_own_cut_off_publish_is_completed_at_once(self, make_weights, monkeypatch, cut_at):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {"n": 1})
        _outage_once(store, monkeypatch, cut_at)
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {"n": 2})
        assert store.current(MODEL).version == 1
        assert f"weights/{MODEL}/00000002.npz" in set(store._bucket.names(f"weights/{MODEL}/"))  # the leftover

        started = time.monotonic()
        with pytest.raises(VersionConflict):  # completes v2 first, then asks the caller to redo on top
            store.publish(MODEL, b"three", 1, {"n": 3})
        assert store.current(MODEL).version == 2 and store.current(MODEL).meta == {"n": 2}
        assert store.publish(MODEL, b"three", 2, {"n": 3}).version == 3
        assert time.monotonic() - started < 5  # not stale_after_s
        _assert_consistent(store, [b"one", b"two", b"three"])

    def test_what_a_caller_sees_no_wait_no_gap(self, make_weights, monkeypatch):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        _outage_once(store, monkeypatch, "pointer")
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        started = time.monotonic()
        assert publish_with_retry(store, MODEL, b"three", {}, deadline_s=5).version == 3
        assert time.monotonic() - started < 2
        _assert_consistent(store, [b"one", b"two", b"three"])

    @pytest.mark.parametrize("cut_at", ["metadata", "pointer"])
    def test_another_worker_still_waits_for_a_young_leftover_of_ours(self, make_weights, monkeypatch, cut_at):
        store, other = make_weights(stale_after_s=60), make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        _outage_once(store, monkeypatch, cut_at)
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        with pytest.raises(VersionConflict):  # to another worker it is someone's live attempt, as before
            other.publish(MODEL, b"other", 1, {})
        assert other.current(MODEL).version == 1
        with pytest.raises(VersionConflict):  # while the worker that wrote it completes it at once
            store.publish(MODEL, b"x", 1, {})
        assert store.publish(MODEL, b"three", 2, {}).version == 3
        _assert_consistent(other, [b"one", b"two", b"three"])

    def test_a_leftover_of_ours_under_someone_elses_fence_is_not_completed(self, make_weights, monkeypatch):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        _outage_once(store, monkeypatch, "metadata")
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        fence = {**store.current(MODEL).to_json(), "fence": "a takeover under way"}
        self.write_raw(store, f"weights/{MODEL}/current.json", json.dumps(fence).encode())
        with pytest.raises(VersionConflict):
            store.publish(MODEL, b"three", 1, {})
        assert store._read_pointer(MODEL).fence_age_s is not None  # their fence still stands
        with pytest.raises(NotFound):  # and we wrote no metadata under it
            store._bucket.get(f"weights/{MODEL}/00000002.json")

    def test_a_leftover_of_ours_taken_over_meanwhile_is_forgotten(self, make_weights, monkeypatch):
        store, taker = make_weights(stale_after_s=60), make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        _outage_once(store, monkeypatch, "pointer")
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        _leftovers_look_abandoned(taker, monkeypatch)
        assert publish_with_retry(taker, MODEL, b"taker", {}, deadline_s=10).version == 2
        assert store.publish(MODEL, b"three", 2, {}).version == 3
        assert not store._unfinished.get(MODEL)
        _assert_consistent(store, [b"one", b"taker", b"three"])

    @pytest.mark.parametrize("lands", ["before the next publish", "after the next publish"])
    def test_a_timed_out_weights_put_that_lands_late(self, make_weights, monkeypatch, lands):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        real_put, late = store._bucket.put, []

        def put_times_out(name, body, **conditions):  # the request is still on its way when the client gives up
            if name.endswith("00000002.npz") and not late:
                late.append(lambda: real_put(name, body, **conditions))
                raise StorageUnavailable("read timeout")
            return real_put(name, body, **conditions)

        monkeypatch.setattr(store._bucket, "put", put_times_out)
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        if lands == "before the next publish":
            late[0]()
            assert publish_with_retry(store, MODEL, b"three", {}, deadline_s=5).version == 3
            _assert_consistent(store, [b"one", b"two", b"three"])
        else:
            assert store.publish(MODEL, b"three", 1, {}).version == 2
            with pytest.raises(VersionConflict):  # its IfNoneMatch keeps it from landing on a published version
                late[0]()
            _assert_consistent(store, [b"one", b"three"])

    @pytest.mark.parametrize("retried", ["weights", "metadata", "pointer"])
    def test_a_retried_request_whose_first_try_landed_is_ours(self, make_weights, monkeypatch, retried):
        store = make_weights(stale_after_s=60)
        store.publish(MODEL, b"one", 0, {})
        real_put = store._bucket.put
        suffix = {"weights": "00000002.npz", "metadata": "00000002.json", "pointer": "current.json"}[retried]

        def put_twice(name, body, **conditions):  # botocore retries after a lost answer: 412 on our own write
            if name.endswith(suffix):
                real_put(name, body, **conditions)
            return real_put(name, body, **conditions)

        monkeypatch.setattr(store._bucket, "put", put_twice)
        assert store.publish(MODEL, b"two", 1, {}).version == 2
        monkeypatch.setattr(store._bucket, "put", real_put)
        assert store.publish(MODEL, b"three", 2, {}).version == 3
        _assert_consistent(store, [b"one", b"two", b"three"])


def _outage_once(store, monkeypatch, cut_at: str) -> None:
    """The next publish of version 2 dies at ``cut_at``, as if S3 went away right then."""
    real_put = store._bucket.put
    suffix = {"weights answer lost": "00000002.npz", "metadata": "00000002.json", "pointer": "current.json"}[cut_at]
    done = []

    def put(name, body, **conditions):
        if name.endswith(suffix) and not done:
            done.append(name)
            if cut_at == "weights answer lost":  # it reached S3, its answer did not reach us
                real_put(name, body, **conditions)
            raise StorageUnavailable(f"put {name}: connection refused")
        return real_put(name, body, **conditions)

    monkeypatch.setattr(store._bucket, "put", put)


def _assert_consistent(store, contents: list[bytes]) -> None:
    """Versions 1..n without a gap, history matching the pointer, every version loads and verifies."""
    history = store.history(MODEL)
    assert [p.version for p in history] == list(range(1, len(contents) + 1))
    assert history[-1] == store.current(MODEL)
    assert [store.load(MODEL, p.version) for p in history] == contents
    fresh = S3WeightStore(store._bucket.client, store._bucket.bucket, store._bucket.prefix)  # no caches
    assert fresh.history(MODEL) == history


def _leftovers_look_abandoned(store, monkeypatch):
    """Make ``store`` see every object as an hour old, instead of waiting ``stale_after_s`` for real."""
    real_stat = store._bucket.stat
    monkeypatch.setattr(store._bucket, "stat", lambda name: dataclasses.replace(real_stat(name), age_s=3600.0))


def _attempt(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # the test inspects which one
        return exc


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
    for call in (lambda: S3WeightStore(client, "b").current(MODEL),
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
            S3WeightStore(client, "b").current(MODEL)
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
