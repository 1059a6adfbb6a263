"""Storage contract tests, run here against the local folder stores, plus local-only tests.

``DrawingStoreContract`` and ``WeightStoreContract`` are the contract every backend
must meet; ``test_storage_s3_moto.py`` and ``test_storage_seaweedfs.py`` run the
same classes against S3. A backend subclass provides:

* ``make_drawings()`` / ``make_weights(**options)`` / ``make_objects()`` fixtures:
  factories returning a *new store instance over the same storage* each call (a
  second instance stands in for a second worker process);
* ``forbid_io(store, monkeypatch)``: make any storage access by ``store`` fail;
* ``write_raw(store, name, data)``: write an object/file behind the store's back
  (``name`` as in the layout, e.g. ``weights/m/00000002.npz``).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import random
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from models.prototypes import EMBEDDING_SIZE

from service.core.storage import (AlreadyExists, CorruptObject, DrawingRecord, LocalDrawingStore, LocalObjects, NotFound,
                             StorageUnavailable, VersionConflict, WeightStore, new_drawing_id)
from service.core.storage.base import sha256_hex
from service.core.writers import WriterMemories, writer_key

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=timezone.utc)
MODEL = "fnn_online"
BAD_IDS = ["../../etc/passwd", "a/b", "", "x" * 5000, "20261127T150405123Z-3f9a1c2b7d/../../x",
           "20261127T150405123Z-3f9a1c2b7d.json", "20261127T150405123Z-3F9A1C2B7D", "20261127T150405123Z-3f9a1c2b7d\n",
           "..", "/etc/passwd"]


def png_for(drawing_id: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + drawing_id.encode() * 3


def make_record(i: int = 0, label: int | None = None, **changes) -> DrawingRecord:
    """Record number i: its id is minted at T0 + i ms, so records sort by i."""
    fields = dict(id=new_drawing_id(T0 + timedelta(milliseconds=i)), label=i % 10 if label is None else label,
                  created="2026-11-27T15:00:00.000Z", train=i % 2 == 0, client=f"client{i % 3}",
                  input28=bytes((i + j) % 256 for j in range(784)),
                  prediction={"fnn": {"digit": 3, "p": [0.1] * 10}}, versions={"fnn_online": i})
    fields.update(changes)
    return DrawingRecord(**fields)


def publish_with_retry(store, model: str, data: bytes, meta: dict, deadline_s: float = 60.0):
    """What a worker does: read the pointer, publish on top of it, on conflict back off and read it again."""
    deadline = time.monotonic() + deadline_s
    for attempt in itertools.count():
        current = store.current(model)
        try:
            return store.publish(model, data, current.version if current else 0, meta)
        except VersionConflict:
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0, min(0.05, 0.002 * 2 ** attempt)))


def hammer_publish(store_factory, threads: int, per_thread: int, tag: str = "") -> None:
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        store = store_factory()
        try:
            for i in range(per_thread):
                publish_with_retry(store, MODEL, f"weights {tag}{t}-{i}".encode(), {"who": f"{tag}{t}-{i}"})
        except BaseException as exc:  # surfaced below, with the thread's error
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors


def assert_gapless_history(store, expected_whos: set[str]) -> None:
    history = store.history(MODEL)
    assert [p.version for p in history] == list(range(1, len(expected_whos) + 1))
    assert store.current(MODEL) == history[-1]
    assert {p.meta["who"] for p in history} == expected_whos  # nobody's publish lost or counted twice
    for p in history:  # every version's bytes are the ones its metadata describes
        assert store.load(MODEL, p.version) == f"weights {p.meta['who']}".encode()


# --------------------------------------------------------------------------- the contract

class DrawingStoreContract:
    @pytest.fixture
    def store(self, make_drawings):
        return make_drawings()

    def test_put_get_round_trip(self, store):
        record = make_record(7)
        store.put(record, png_for(record.id))
        assert store.get(record.id) == record
        assert store.get_png(record.id) == png_for(record.id)

    def test_unknown_id_is_not_found(self, store):
        missing = new_drawing_id()
        with pytest.raises(NotFound):
            store.get(missing)
        with pytest.raises(NotFound):
            store.get_png(missing)

    @pytest.mark.parametrize("bad_id", BAD_IDS, ids=lambda s: repr(s) if len(s) <= 60 else f"{len(s)} chars")
    def test_invalid_ids_are_not_found_without_touching_storage(self, store, bad_id, monkeypatch):
        self.forbid_io(store, monkeypatch)
        with pytest.raises(NotFound):
            store.get(bad_id)
        with pytest.raises(NotFound):
            store.get_png(bad_id)

    def test_never_overwrites_an_id(self, store):
        record = make_record(1, label=1)
        store.put(record, png_for(record.id))
        impostor = make_record(1, label=2, id=record.id)
        with pytest.raises(AlreadyExists):
            store.put(impostor, b"other png")
        with pytest.raises(VersionConflict):  # AlreadyExists is a lost conditional write
            store.put(record, b"other png")
        assert store.get(record.id) == record
        assert store.get_png(record.id) == png_for(record.id)

    def test_retrying_an_identical_put_is_harmless(self, store):
        record = make_record(2)
        store.put(record, png_for(record.id))
        store.put(record, png_for(record.id))  # e.g. the first attempt timed out after it landed
        assert store.counts(10)[record.label] == 1
        assert [r.id for r in store.list()[0]] == [record.id]

    def test_list_newest_first_across_pages(self, store):
        records = [make_record(i) for i in range(12)]
        for r in random.sample(records, len(records)):  # insertion order must not matter
            store.put(r, png_for(r.id))
        seen, cursor, pages = [], None, 0
        while True:
            page, cursor = store.list(limit=5, cursor=cursor)
            pages += 1
            assert len(page) == (5 if cursor else 2)
            seen += page
            if cursor is None:
                break
        assert pages == 3
        assert seen == records[::-1]

    def test_list_by_label_and_counts(self, store):
        records = [make_record(i, label=[3, 3, 5, 0, 3][i % 5]) for i in range(15)]
        for r in records:
            store.put(r, png_for(r.id))
        assert store.counts(10) == [3, 0, 0, 9, 0, 3, 0, 0, 0, 0]
        threes = [r for r in records if r.label == 3][::-1]
        first, cursor = store.list(label=3, limit=5)
        rest, end = store.list(label=3, limit=5, cursor=cursor)
        assert first + rest == threes and end is None
        assert store.list(label=9) == ([], None)

    def test_labels_of_a_bigger_alphabet(self, store, make_drawings):
        """The store keeps any class index (hiragana has 71); counts run to the highest one stored."""
        records = [make_record(i, label=label) for i, label in enumerate([70, 12, 70])]
        for r in records:
            store.put(r, png_for(r.id))
        fresh = make_drawings()  # another worker, from the journal or the listing
        assert fresh.counts(71)[70] == 2 and fresh.counts(71)[12] == 1 and len(fresh.counts(71)) == 71
        assert fresh.list(label=70)[0] == [records[2], records[0]] and fresh.get(records[1].id).label == 12

    def test_list_rejects_bad_arguments(self, store):
        for kwargs in ({"limit": 0}, {"limit": 100_000}, {"label": 1000}, {"label": -1}, {"cursor": "../x"}):
            with pytest.raises(ValueError):
                store.list(**kwargs)

    def test_another_instance_sees_new_drawings_at_once(self, make_drawings):
        reader, writer = make_drawings(), make_drawings()
        early = make_record(0, label=4)
        writer.put(early, png_for(early.id))
        assert reader.list()[0] == [early] and reader.counts(10)[4] == 1  # reader has built its index
        late = make_record(1, label=4)
        writer.put(late, png_for(late.id))
        assert reader.list(label=4)[0] == [late, early]
        assert reader.counts(10)[4] == 2

    def test_public_pages_and_counts_hold_only_drawings_given_with_consent(self, make_drawings, monkeypatch):
        """Consent is in the index (a journal line, a marker): public pages never read a private record."""
        writer = make_drawings()
        records = [make_record(i, label=4) for i in range(12)]  # even i: train=True
        for r in records:
            writer.put(r, png_for(r.id))
        public = [r for r in records if r.train][::-1]
        for store in (writer, make_drawings()):  # this worker, and another one
            read = []
            original_get = store.get
            monkeypatch.setattr(store, "get", lambda i: (read.append(i), original_get(i))[1])
            first, cursor = store.list(limit=4, public=True)
            rest, end = store.list(limit=4, cursor=cursor, public=True)
            assert first + rest == public and end is None
            assert all(r.train for r in records if r.id in read)
            assert store.counts(10, public=True)[4] == 6 and store.counts(10)[4] == 12

    def test_list_reads_only_the_records_on_the_page(self, make_drawings, monkeypatch):
        writer = make_drawings()
        for i in range(20):
            r = make_record(i)
            writer.put(r, png_for(r.id))
        reader = make_drawings()  # a fresh process: builds its index from scratch
        reads = []
        original_get = reader.get
        monkeypatch.setattr(reader, "get", lambda drawing_id: reads.append(drawing_id) or original_get(drawing_id))
        assert reader.counts(10) == [2] * 10
        page, _ = reader.list(label=3, limit=2)
        assert [r.label for r in page] == [3, 3]
        assert sorted(reads) == sorted(r.id for r in page)

    def test_a_put_interrupted_anywhere_before_its_end_is_invisible(self, make_drawings, monkeypatch):
        store = make_drawings()
        kept = make_record(0, label=2)
        store.put(kept, png_for(kept.id))
        committed = [kept]
        original_create = store._create
        for crash_at in itertools.count():  # crash before the 1st object write, the 2nd, ... until none is left
            record = make_record(crash_at + 1, label=7)
            writes = []

            def crashing_create(name, body):
                if len(writes) == crash_at:
                    raise KeyboardInterrupt("simulated kill -9")
                writes.append(name)
                original_create(name, body)

            monkeypatch.setattr(store, "_create", crashing_create)
            try:
                store.put(record, png_for(record.id))
                break  # crash_at is past the last write: the put completed
            except KeyboardInterrupt:
                pass
            finally:
                monkeypatch.undo()
            for view in (store, make_drawings()):
                with pytest.raises(NotFound):
                    view.get(record.id)
                with pytest.raises(NotFound):
                    view.get_png(record.id)
                assert view.list() == (committed[::-1], None)
                assert view.counts(10) == [0, 0, 1] + [0] * 4 + [len(committed) - 1, 0, 0]
                assert list(view.iter_records()) == committed
            store.put(record, png_for(record.id))  # retrying the same put completes it
            committed.append(record)
            assert make_drawings().get_png(record.id) == png_for(record.id)
            assert make_drawings().counts(10)[7] == len(committed) - 1
        assert crash_at >= 2 and writes[0].endswith(".png") and writes[-1].endswith(".json")

    def test_iter_records_oldest_first(self, store):
        records = [make_record(i) for i in range(12)]
        for r in reversed(records):
            store.put(r, png_for(r.id))
        assert list(store.iter_records()) == records


class WeightStoreContract:
    """The weight store's one algorithm (``service/core/storage/weights.py``) over each backend's object adapter."""

    publishers = (8, 10)  # threads, publishes each, in the concurrency test

    @pytest.fixture
    def store(self, make_weights):
        return make_weights()

    @staticmethod
    def write_raw(store, name, data):
        store.objects.put(name, data)

    def test_nothing_before_the_first_publish(self, store):
        assert store.current(MODEL) is None
        assert store.history(MODEL) == []
        assert store.prune(MODEL, keep_last=0) == 0
        assert store.migrate(MODEL) == 0
        for version in (0, 1):
            with pytest.raises(NotFound):
                store.load(MODEL, version)

    def test_publish_one_two_three(self, store):
        records = [store.publish(MODEL, b"w%d" % v, v - 1, {"reason": "learn", "steps": v}) for v in (1, 2, 3)]
        assert [r.version for r in records] == [1, 2, 3]
        assert store.current(MODEL) == records[-1]
        assert store.history(MODEL) == records
        assert store.history(MODEL, since=3) == records[2:]
        assert [store.load(MODEL, v) for v in (1, 2, 3)] == [b"w1", b"w2", b"w3"]
        assert records[1].meta == {"reason": "learn", "steps": 2} and records[1].steps == 2
        for missing in (0, 4):
            with pytest.raises(NotFound):
                store.load(MODEL, missing)

    def test_a_fresh_instance_reads_the_same_history(self, store, make_weights):
        records = [store.publish(MODEL, b"w%d" % v, v - 1, {"drawings": [f"d{v}"]}) for v in (1, 2, 3)]
        again = make_weights()
        assert again.history(MODEL) == records
        assert [r.drawings for r in again.history(MODEL)] == [["d1"], ["d2"], ["d3"]]

    def test_models_are_independent(self, store):
        store.publish("fnn_online", b"f", 0, {})
        store.publish("cnn_online", b"c1", 0, {})
        store.publish("cnn_online", b"c2", 1, {})
        assert store.current("fnn_online").version == 1 and store.current("cnn_online").version == 2

    def test_stale_expected_version_conflicts_and_changes_nothing(self, store):
        store.publish(MODEL, b"one", 0, {})
        two = store.publish(MODEL, b"two", 1, {})
        for stale in (0, 1, 3):
            with pytest.raises(VersionConflict):
                store.publish(MODEL, b"late", stale, {"stale": True})
        assert store.current(MODEL) == two
        assert store.load(MODEL, 2) == b"two"
        assert [r.version for r in store.history(MODEL)] == [1, 2]

    def test_identical_weights_are_one_object(self, store):
        one = store.publish(MODEL, b"same", 0, {})
        two = store.publish(MODEL, b"same", 1, {"reason": "rollback", "to": 1})
        assert one.sha256 == two.sha256
        assert len(store.objects.list(f"weights/{MODEL}/objects/")) == 1
        assert store.load(MODEL, 2) == b"same"

    def test_load_verifies_sha256(self, store):
        for v, data in enumerate((b"good one", b"good two"), start=1):
            record = store.publish(MODEL, data, v - 1, {})
            self.write_raw(store, f"weights/{MODEL}/objects/{record.sha256}.npz", b"bit rot")
        for version in (1, 2):  # an old version (via its record) and the newest (via HEAD)
            with pytest.raises(CorruptObject):
                store.load(MODEL, version)

    def test_a_publisher_that_died_before_the_swap_leaves_only_garbage(self, make_weights):
        store = make_weights(grace_s=3600)
        store.publish(MODEL, b"one", 0, {})
        self.write_raw(store, f"weights/{MODEL}/objects/{'e' * 64}.npz", b"never named")  # died after its object
        assert store.publish(MODEL, b"two", 1, {}).version == 2  # nothing to take over, nothing to wait for
        assert store.prune(MODEL, keep_last=1) == 0  # young objects may be a publish under way: they stay
        assert make_weights(grace_s=0).prune(MODEL, keep_last=1) == 2  # past the grace period: it and version 1's
        assert store.load(MODEL, 2) == b"two"

    def test_a_publisher_that_died_after_the_swap_leaves_no_gap(self, store, make_weights):
        one = store.publish(MODEL, b"one", 0, {})
        two = store.publish(MODEL, b"two", 1, {})
        store.objects.delete([f"weights/{MODEL}/versions/00000002.json"])  # died before copying its record
        assert store.history(MODEL) == [one, two]  # HEAD is the record
        three = make_weights().publish(MODEL, b"three", 2, {})  # the next publisher copies it before moving on
        assert store.objects.get(f"weights/{MODEL}/versions/00000002.json")
        assert store.history(MODEL) == [one, two, three]

    @pytest.mark.parametrize("cut_at", ["object", "history copy", "head swap"])
    def test_a_publish_cut_off_anywhere_blocks_nothing(self, store, monkeypatch, cut_at):
        store.publish(MODEL, b"one", 0, {})
        method = {"object": "put", "history copy": "put_if_absent", "head swap": "put_if_match"}[cut_at]
        real = getattr(store.objects, method)

        def cut_off(name, *args):  # the request reached the server; its answer never came back
            real(name, *args)
            raise StorageUnavailable(f"{method} {name}: connection reset")

        monkeypatch.setattr(store.objects, method, cut_off)
        with pytest.raises(StorageUnavailable):
            store.publish(MODEL, b"two", 1, {})
        monkeypatch.undo()
        landed = store.current(MODEL).version  # 2 once the swap landed (the copy comes after it), else 1
        assert landed == (1 if cut_at == "object" else 2)
        started = time.monotonic()
        store.publish(MODEL, b"three", landed, {})  # at once: no claim to wait out, nothing to take over
        assert time.monotonic() - started < 2
        contents = [b"one", b"two", b"three"] if landed == 2 else [b"one", b"three"]
        assert [store.load(MODEL, r.version) for r in store.history(MODEL)] == contents

    def test_prune_keeps_head_newest_and_kept(self, make_weights):
        store = make_weights(grace_s=0)
        for v in range(1, 7):
            store.publish(MODEL, b"w%d" % v, v - 1, {})
        assert store.prune(MODEL, keep_last=2, keep={1}) == 3  # versions 2, 3, 4
        for v in (2, 3, 4):
            with pytest.raises(NotFound):
                store.load(MODEL, v)
        assert [store.load(MODEL, v) for v in (1, 5, 6)] == [b"w1", b"w5", b"w6"]
        assert [r.version for r in store.history(MODEL)] == [1, 2, 3, 4, 5, 6]  # records stay: the ledger
        assert store.prune(MODEL, keep_last=2, keep={1}) == 0
        assert store.prune(MODEL, keep_last=0) == 2  # 1 and 5; never HEAD
        assert store.load(MODEL, 6) == b"w6"

    def test_invalid_model_names_are_rejected(self, store):
        for bad in ("../x", "Fnn", "a/b", "", "x" * 41, "fnn-online"):
            with pytest.raises(ValueError):
                store.current(bad)
            with pytest.raises(ValueError):
                store.publish(bad, b"w", 0, {})

    def test_concurrent_publishers_never_lose_or_skip_a_version(self, make_weights):
        threads, per_thread = self.publishers
        hammer_publish(make_weights, threads, per_thread)
        assert_gapless_history(make_weights(), {f"{t}-{i}" for t in range(threads) for i in range(per_thread)})

    def test_migrates_the_old_layout(self, store, make_weights):
        old = f"weights/{MODEL}/"
        pointers = [{"model": MODEL, "version": v, "sha256": sha256_hex(b"old %d" % v), "created": f"2026-11-2{v}T"
                     f"00:00:00.000Z", "meta": {"reason": "learn", "drawing": f"d{v}", "steps": v}} for v in (1, 2, 3)]
        for p in pointers:
            self.write_raw(store, old + f"{p['version']:08d}.json", json.dumps(p).encode())
            if p["version"] != 1:  # version 1's weights were pruned in the old store
                self.write_raw(store, old + f"{p['version']:08d}.npz", b"old %d" % p["version"])
        self.write_raw(store, old + "current.json", json.dumps(pointers[-1]).encode())
        self.write_raw(store, old + "events/20261127T150000000000Z-0123456789.json",
                       json.dumps({"kind": "evaluation", "version": 2, "holdout_accuracy": 0.99}).encode())
        assert store.migrate(MODEL) == 3
        assert make_weights().migrate(MODEL) == 0  # once is enough
        history = make_weights().history(MODEL)
        assert [(r.version, r.sha256, r.drawings, r.steps) for r in history] == \
            [(p["version"], p["sha256"], [f"d{p['version']}"], p["version"]) for p in pointers]
        assert history[1].meta["holdout_accuracy"] == 0.99  # the guard's verdict moved into the record
        assert [store.load(MODEL, v) for v in (2, 3)] == [b"old 2", b"old 3"]
        with pytest.raises(NotFound):
            store.load(MODEL, 1)
        assert not any(name.endswith(".npz") for name, _ in store.objects.list(old))  # moved under objects/
        assert store.publish(MODEL, b"new", 3, {}).version == 4

    def test_compare_and_swap_of_the_adapter(self, store):
        objects, name = store.objects, f"weights/{MODEL}/probe"
        objects.put_if_match(name, b"a", None)
        with pytest.raises(VersionConflict):
            objects.put_if_match(name, b"b", None)  # None: only if absent
        data, tag = objects.get_versioned(name)
        objects.put_if_match(name, b"b", tag)
        with pytest.raises(VersionConflict):
            objects.put_if_match(name, b"c", tag)  # that tag is gone
        assert objects.get(name) == b"b"
        assert objects.put_if_absent(name, b"d") is False and objects.get(name) == b"b"


# --------------------------------------------------------------------------- writers' memories

WRITER, OTHER_WRITER = "writer-contract-1-000000", "writer-contract-2-000000"  # 22+ characters


def embedding_of(i: int) -> np.ndarray:
    e = np.random.default_rng(i).random(EMBEDDING_SIZE).astype(np.float32)
    return e / np.linalg.norm(e)


def add_drawing(memories: WriterMemories, writer: str, i: int, label: int):
    return memories.add(writer, memories.link(writer), make_record(i).id, label, embedding_of(i))


class WriterMemoryContract:
    """A writer's memory (service.core.writers) over each backend's objects: what every worker must see."""

    @pytest.fixture
    def make_memories(self, make_objects):
        return lambda **options: WriterMemories(make_objects(), **{"n_classes": 10, **options})

    def test_a_memory_round_trips_through_the_store(self, make_memories):
        first = make_memories()
        for i, label in enumerate([3, 3, 7]):
            add_drawing(first, WRITER, i, label)
        again = make_memories().read(WRITER)  # another worker, reading the store
        assert again.counts() == first.view(WRITER).counts() == [0, 0, 0, 2, 0, 0, 0, 1, 0, 0]
        np.testing.assert_allclose(again.prototypes, first.view(WRITER).prototypes)
        assert again.judged == 1 and again.hits == 1  # the second 3 was guessed before it joined
        assert len(make_memories().view(OTHER_WRITER)) == 0

    def test_forgetting_removes_it_for_every_worker(self, make_memories):
        first, second = make_memories(), make_memories()
        add_drawing(first, WRITER, 0, 5)
        add_drawing(first, OTHER_WRITER, 1, 5)
        second.changed(writer_key(WRITER), first.origin)  # the announcement a worker receives
        assert len(second.view(WRITER)) == 1
        first.forget(WRITER)
        second.changed(writer_key(WRITER), first.origin)  # the announcement a worker receives
        assert len(second.view(WRITER)) == 0 and len(make_memories().read(WRITER)) == 0
        assert len(make_memories().read(OTHER_WRITER)) == 1
        first.forget(WRITER)  # forgetting twice is harmless

    def test_a_memory_keeps_the_newest_drawings(self, make_memories):
        memories = make_memories(size=4)
        for i in range(6):
            add_drawing(memories, WRITER, i, i % 2)
        stored, _ = memories._read(writer_key(WRITER))
        assert [e.drawing_id[:19] for e in stored.entries] == [make_record(i).id[:19] for i in range(2, 6)]  # by time

    def test_concurrent_adds_lose_nothing(self, make_memories):
        errors = []

        def add(i):
            try:
                add_drawing(make_memories(), WRITER, i, i % 10)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        add_drawing(make_memories(), WRITER, 100, 0)
        threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(make_memories().read(WRITER)) == 9

    def test_a_drawing_linked_before_forgetting_stays_forgotten(self, make_memories):
        memories = make_memories()
        add_drawing(memories, WRITER, 0, 1)
        link = memories.link(WRITER)  # a drawing of theirs is being stored...
        make_memories().forget(WRITER)  # ...when they press "Forget my handwriting" in another tab
        assert len(memories.add(WRITER, link, make_record(1).id, 1, embedding_of(1))) == 0
        assert len(make_memories().read(WRITER)) == 0
        assert link.record_link(make_record(1).id) != make_memories().link(WRITER).record_link(make_record(1).id)


# --------------------------------------------------------------------------- local backend

class LocalBackend:
    @pytest.fixture
    def make_drawings(self, tmp_path):
        return lambda: LocalDrawingStore(tmp_path)

    @pytest.fixture
    def make_objects(self, tmp_path):
        return lambda: LocalObjects(tmp_path)

    @pytest.fixture
    def make_weights(self, tmp_path):
        return lambda **options: WeightStore(LocalObjects(tmp_path), **options)

    @staticmethod
    def forbid_io(store, monkeypatch):
        class Untouchable:
            def __truediv__(self, other):
                raise AssertionError("the store touched the disk")

        monkeypatch.setattr(store, "_dir", Untouchable())



class TestLocalDrawingStore(LocalBackend, DrawingStoreContract):
    def test_a_lost_index_log_is_rebuilt_from_the_folder(self, tmp_path):
        records = [make_record(i) for i in range(10)]
        store = LocalDrawingStore(tmp_path)
        for r in records:
            store.put(r, png_for(r.id))
        (tmp_path / "drawings" / "index.log").unlink()
        fresh = LocalDrawingStore(tmp_path)
        assert fresh.counts(10) == [1] * 10
        assert fresh.list(limit=3)[0] == records[:-4:-1]

    def test_a_torn_index_line_loses_nothing_after_it(self, tmp_path):
        store = LocalDrawingStore(tmp_path)
        reader = LocalDrawingStore(tmp_path)
        assert reader.counts(10) == [0] * 10
        with open(tmp_path / "drawings" / "index.log", "ab") as log:
            log.write(b"20261127T150000000Z-00000")  # a writer died mid-line (and never committed)
        record = make_record(3, label=6)
        store.put(record, png_for(record.id))
        assert reader.counts(10)[6] == 1
        assert reader.list()[0] == [record]

    def test_stray_temp_files_are_ignored(self, tmp_path):
        store = LocalDrawingStore(tmp_path)
        record = make_record(1)
        (tmp_path / "drawings" / f".tmp-{record.id}.json-1234abcd").write_bytes(b"{half")
        store.put(record, png_for(record.id))
        assert list(LocalDrawingStore(tmp_path).iter_records()) == [record]

    def test_kill_9_leaves_only_complete_drawings(self, tmp_path):
        context = multiprocessing.get_context("spawn")
        writer = context.Process(target=_put_forever, args=(str(tmp_path),), daemon=True)
        writer.start()
        try:
            store = LocalDrawingStore(tmp_path)
            deadline = time.monotonic() + 30
            while sum(store.counts(10)) < 20:
                assert time.monotonic() < deadline and writer.is_alive(), "writer did not get going"
                time.sleep(0.02)
            os.kill(writer.pid, signal.SIGKILL)
        finally:
            writer.join(10)
        store = LocalDrawingStore(tmp_path)
        records = list(store.iter_records())
        assert len(records) >= 20 and sum(store.counts(10)) == len(records)
        for r in records:
            assert r == _record_for_kill_test(r.id)
            assert store.get_png(r.id) == png_for(r.id)
        listed, cursor = store.list(limit=1000)
        assert listed == records[::-1] and cursor is None


def _record_for_kill_test(drawing_id: str) -> DrawingRecord:
    return DrawingRecord(drawing_id, int(drawing_id[-1], 16) % 10, "2026-11-27T15:00:00.000Z", True, "k",
                         bytes(784), prediction={"fnn": 1})


def _put_forever(root: str) -> None:  # in a child process, until killed
    store = LocalDrawingStore(Path(root))
    while True:
        drawing_id = new_drawing_id()
        store.put(_record_for_kill_test(drawing_id), png_for(drawing_id))


class TestLocalWriterMemories(LocalBackend, WriterMemoryContract):
    pass


class TestLocalWeightStore(LocalBackend, WeightStoreContract):
    def test_two_processes_publishing_into_one_folder(self, tmp_path):
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=_publish_in_process, args=(str(tmp_path), f"p{n}-")) for n in range(2)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(60)
        assert [p.exitcode for p in processes] == [0, 0]
        expected = {f"p{n}-{t}-{i}" for n in range(2) for t in range(4) for i in range(10)}
        assert_gapless_history(WeightStore(LocalObjects(tmp_path)), expected)


def _publish_in_process(root: str, tag: str) -> None:  # in a child process
    hammer_publish(lambda: WeightStore(LocalObjects(Path(root))), threads=4, per_thread=10, tag=tag)
