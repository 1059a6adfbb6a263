"""Prometheus metrics, in a registry owned by the app (no process-global state)."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

QUEUE_GAUGES_EVERY_S = 5.0  # how stale the queue's depth and lag in /metrics may be


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("inkling_requests_total", "HTTP requests by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("inkling_request_seconds", "Server time per request.", ["method", "route"],
                                 buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
                                 registry=self.registry)
        self.learn_steps = Counter("inkling_learn_steps_total", "Online learning steps taken.", ["model"],
                                   registry=self.registry)
        self.corrupt_versions = Counter("inkling_corrupt_versions_total",
                                        "Published versions whose weights could not be read (skipped).", ["model"],
                                        registry=self.registry)
        self.corrupt_drawings = Counter("inkling_corrupt_drawings_total", "Drawing records that could not be read "
                                        "(skipped in listings, 404 alone).", registry=self.registry)
        self.rollbacks = Counter("inkling_rollbacks_total", "Guard rollbacks of online models.", ["model"],
                                 registry=self.registry)
        self.drawings = Counter("inkling_drawings_stored_total", "Labelled drawings stored.", registry=self.registry)
        self.quarantined = Counter("inkling_drawings_quarantined_total", "Labelled drawings stored but held for "
                                   "review (suspicion over INKLING_QUARANTINE_ABOVE, or their writer's).",
                                   registry=self.registry)
        self.reviews = Counter("inkling_reviews_total", "Reviews of drawings, by action.", ["action"],
                               registry=self.registry)
        self.drawings_deferred = Counter("inkling_drawings_deferred_total", "Drawings stored but not enqueued "
                                         "(the learner's reconciliation enqueues them), by why.", ["reason"],
                                         registry=self.registry)
        self.version = Gauge("inkling_model_version", "Version each online model serves.", ["model"],
                             registry=self.registry)
        self.steps = Gauge("inkling_model_steps", "Learning steps in the version each online model serves.",
                           ["model"], registry=self.registry)
        self.batch_size = Histogram("inkling_learn_batch_drawings", "Drawings learned into one published version.",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.queue_depth = Gauge("inkling_queue_depth", "Drawings in the learn queue not yet in a published "
                                 "version (NaN: queue unreachable).", registry=self.registry)
        self.learn_lag = Gauge("inkling_learn_lag_seconds", "Age of the oldest drawing waiting to be learned "
                               "(0 when none; NaN: queue unreachable).", registry=self.registry)

        self.rate_limit_shared = Gauge("inkling_rate_limit_shared", "1: the drawing rate limit is counted in Redis "
                                       "for every worker; 0: in this process (Redis unreachable, or none).",
                                       registry=self.registry)

    def watch_queue(self, queue, every_s: float = QUEUE_GAUGES_EVERY_S) -> threading.Event:
        """Read the queue's depth and lag every ``every_s`` on a thread of their own; returns its stop switch.

        A scrape reads the last values and never waits for the queue: with Redis
        paused, reading them at scrape time held the event loop for the socket timeout.
        """
        stop = threading.Event()

        def read(fn) -> float:
            try:
                value = fn()
            except Exception:  # unreachable: say so rather than fail
                return float("nan")
            return float(value or 0)

        def watch() -> None:
            while True:
                self.queue_depth.set(read(queue.depth))
                self.learn_lag.set(read(queue.oldest_age_s))
                if stop.wait(every_s):
                    return

        threading.Thread(target=watch, name="queue-gauges", daemon=True).start()
        return stop

    def render(self) -> bytes:
        return generate_latest(self.registry)
