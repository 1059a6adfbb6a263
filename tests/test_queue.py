"""The learn queue contract, run over the in-process queue and a real Redis; and the shared rate limit."""

from __future__ import annotations

import secrets
import threading
import time

from dataclasses import replace

import pytest

from inkling_testkit.live_service import free_port
from service.web.limits import RateLimiter
from service.core.queue import Lesson, MemoryQueue, QueueFull, QueueUnavailable, RedisQueue


def lesson(n: int) -> Lesson:
    return Lesson(f"20261130T1200000{n:02d}Z-0123456789", n % 10, bytes([n]) * 784)


class QueueContract:
    def test_read_in_order_after_a_position(self, queue):
        positions = [queue.add(lesson(n)) for n in range(5)]
        assert [x.drawing_id for x in queue.read(None, 10, 0)] == [lesson(n).drawing_id for n in range(5)]
        assert [x.position for x in queue.read(None, 10, 0)] == positions
        assert [x.label for x in queue.read(positions[1], 2, 0)] == [2, 3]
        assert queue.read(positions[-1], 10, 0) == []
        assert queue.read(None, 1, 0)[0].input28 == lesson(0).input28
        assert sorted(positions, key=queue.order) == positions and queue.order(None) < queue.order(positions[0])

    def test_a_reviews_lesson_arrives_whole(self, queue):
        """A review's lesson (service.core.curation) carries more than a drawing's: every field comes back."""
        sent = [Lesson("20261130T120000000Z-0123456789", None, bytes(784), review="r20261130T120001000Z-0123456789",
                       holds=None, alias="w0123456789ab", verdict="corrected"),
                Lesson("20261130T120000000Z-0123456789", 4, bytes([9]) * 784, review="r20261130T120002000Z-0123456789",
                       holds=4, alias=None, verdict="confirmed")]
        positions = [queue.add(item) for item in sent]
        got = queue.read(None, 10, 0)
        assert [replace(x, position=None) for x in got] == sent and [x.position for x in got] == positions
        assert got[0].lesson_id == sent[0].review and lesson(1).lesson_id == lesson(1).drawing_id

    def test_trim_is_the_acknowledgement(self, queue):
        positions = [queue.add(lesson(n)) for n in range(4)]
        assert queue.depth() == 4 and queue.oldest_age_s() >= 0
        queue.trim(positions[1])
        assert queue.depth() == 2
        assert [x.position for x in queue.read(None, 10, 0)] == positions[2:]
        queue.trim(positions[-1])
        assert queue.depth() == 0 and queue.oldest_age_s() is None

    def test_past_its_bound_the_queue_refuses_and_keeps_what_it_holds(self, queue):
        """A hard bound (it had none in memory, and Redis's MAXLEN of a million dropped the oldest lessons)."""
        queue.max_depth = 3
        positions = [queue.add(lesson(n)) for n in range(3)]
        with pytest.raises(QueueFull):
            queue.add(lesson(3))
        assert queue.depth() == 3 and [x.position for x in queue.read(None, 10, 0)] == positions
        queue.trim(positions[0])
        queue.add(lesson(4))
        assert [x.label for x in queue.read(None, 10, 0)] == [1, 2, 4]

    def test_a_blocking_read_wakes_for_a_new_lesson(self, queue):
        threading.Timer(0.2, queue.add, args=(lesson(7),)).start()
        started = time.monotonic()
        assert [x.label for x in queue.read(None, 10, block_s=5)] == [7]
        assert time.monotonic() - started < 3

    def test_announcements_reach_subscribers(self, queue):
        heard, got = [], threading.Event()
        stop = queue.subscribe(lambda model, version: (heard.append((model, version)), got.set()))
        try:
            deadline = time.monotonic() + 5
            while not got.is_set() and time.monotonic() < deadline:  # a subscription takes a moment to start
                queue.announce("cnn_online", 3)
                got.wait(0.2)
            assert ("cnn_online", 3) in heard
        finally:
            stop()


class TestMemoryQueue(QueueContract):
    @pytest.fixture
    def queue(self):
        return MemoryQueue()

    def test_positions_of_another_process_read_from_the_start(self, queue):
        other = MemoryQueue()
        stale = other.add(lesson(1))
        queue.add(lesson(2))
        assert [x.label for x in queue.read(stale, 10, 0)] == [2]


@pytest.mark.redis
class TestRedisQueue(QueueContract):
    @pytest.fixture
    def queue(self, queue_env):
        return RedisQueue(queue_env["INKLING_QUEUE_URL"], queue_env["INKLING_QUEUE_NAME"])

    def test_lessons_survive_a_redis_restart(self, queue, redis_server):
        queue.add(lesson(4))
        time.sleep(1.1)  # appendfsync everysec
        redis_server.restart()
        deadline = time.monotonic() + 5
        while True:
            try:
                assert [x.label for x in queue.read(None, 10, 0)] == [4]
                break
            except QueueUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.2)


def test_an_unreachable_redis_is_unavailable_at_once(aws_env):
    queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0", "x", timeout_s=1)
    for call in (lambda: queue.add(lesson(1)), queue.depth, lambda: queue.read(None, 1, 0)):
        started = time.monotonic()
        with pytest.raises(QueueUnavailable):
            call()
        assert time.monotonic() - started < 3
    queue.announce("fnn_online", 1)  # a lost announcement is only logged: workers poll as well


@pytest.mark.redis
def test_the_rate_limit_is_shared_by_every_worker(redis_server):
    prefix = "test-" + secrets.token_hex(4)
    workers = [RateLimiter(per_minute=3, burst=3, storage_url=redis_server.url, prefix=prefix) for _ in range(2)]
    allowed = [workers[n % 2].acquire("client-a") == 0 for n in range(6)]
    assert allowed == [True, True, True, False, False, False]  # 3 in all, not 3 per worker
    wait = workers[0].acquire("client-a")
    assert 0 < wait <= 60
    assert workers[1].acquire("client-b") == 0  # another client has its own count


def test_the_rate_limit_counts_in_the_process_when_redis_is_down():
    """Never no limit: while Redis cannot be reached the same limit is counted per process (it let every
    drawing through before)."""
    limiter = RateLimiter(per_minute=1, burst=1, storage_url=f"redis://127.0.0.1:{free_port()}/0")
    changes = []
    limiter.on_change = changes.append
    assert limiter.acquire("c") == 0.0 and limiter.acquire("c") > 0 and limiter.acquire("d") == 0.0
    assert not limiter.shared and limiter.state == "per_process_fallback" and changes == [False]


@pytest.mark.redis
def test_announcements_arrive_within_200_ms(queue_env):
    queue = RedisQueue(queue_env["INKLING_QUEUE_URL"], queue_env["INKLING_QUEUE_NAME"])
    heard: list[tuple[float, int]] = []
    arrived = threading.Event()
    stop = queue.subscribe(lambda model, version: (heard.append((time.monotonic(), version)), arrived.set()))
    try:
        deadline = time.monotonic() + 5
        while not arrived.is_set() and time.monotonic() < deadline:  # until the subscription is live
            queue.announce("cnn_online", 0)
            arrived.wait(0.1)
        delays = []
        for version in range(1, 6):
            arrived.clear()
            sent = time.monotonic()
            queue.announce("cnn_online", version)
            assert arrived.wait(2), "an announcement never arrived"
            delays.append(heard[-1][0] - sent)
        assert max(delays) < 0.2, delays
    finally:
        stop()


@pytest.mark.redis
@pytest.mark.parametrize("channel", ["versions", "memories"])
def test_a_malformed_message_does_not_end_the_announcements(queue_env, redis_server, channel):
    """PUBLISH <prefix>:memories '[1]' killed the listener thread in every worker: after it a drawing taught on
    one worker was not seen by another until its cache expired. Each message is now checked on its own."""
    queue = RedisQueue(queue_env["INKLING_QUEUE_URL"], queue_env["INKLING_QUEUE_NAME"])
    heard, got = [], threading.Event()
    if channel == "versions":
        stop = queue.subscribe(lambda model, version: (heard.append((model, version)), got.set()))
        good, announce = ("cnn_online", 3), lambda: queue.announce("cnn_online", 3)
    else:
        stop = queue.subscribe_memories(lambda key, origin: (heard.append((key, origin)), got.set()))
        good, announce = ("a" * 32, "worker-1"), lambda: queue.announce_memory("a" * 32, "worker-1")
    raw = redis_server.client()
    name = f"{queue_env['INKLING_QUEUE_NAME']}:{channel}"
    try:
        deadline = time.monotonic() + 5
        while not got.is_set() and time.monotonic() < deadline:  # until the subscription is live
            announce()
            got.wait(0.2)
        assert good in heard
        for bad in ("[1]", "{}", "not json", '{"model": [], "version": "x"}', '{"writer": 5, "origin": {}}',
                    "\xff\xfe", "null", '"text"', '{"model": "m", "version": 1e999}'):
            raw.publish(name, bad)
        heard.clear()
        got.clear()
        announce()
        assert got.wait(5) and heard == [good]
    finally:
        stop()
