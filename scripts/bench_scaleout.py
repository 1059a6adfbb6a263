#!/usr/bin/env python
"""Learning throughput over HTTP: the embedded default and scale-out side by side, in one run.

    python scripts/bench_scaleout.py [--seconds 20] [--json docs/bench_scaleout.json]

Both set-ups store on a real S3 server (SeaweedFS) started here; scale-out is
2 web workers (``INKLING_ROLE=web``) + 1 learner (``python -m service.learner``)
on a real Redis, all on this machine's cores. Each set-up is measured on a fresh
bucket and queue with pen drawings of the 14 pendigits test writers:

1. capacity: a steady ``--rate`` drawings/s (open loop, ``wait: false``) for
   ``--seconds``: drawings learned per second over that time (from the
   publication time of the version that learned each), and the learn lag (from
   each POST to that publication);
2. the same at 20 drawings/s;
3. 16 clients posting as the page does (``wait: true``, the next drawing when
   the last is answered): learned/s and POST latency including the answer
   after learning; 4. the same with 4 clients;
5. the ledger: learn steps == drawings with consent, each in exactly one version.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx

from inkling_testkit.live_service import LiveLearner, LiveService
from inkling_testkit.load_client import UNLIMITED
from inkling_testkit.processes import cpu_seconds, machine_busy_seconds
from inkling_testkit.redis_server import RedisServer
from inkling_testkit.seaweedfs import SeaweedFS
from lab.data import load_pendigits
from lab.render import render_pendigit
from service.core.storage import S3Objects, WeightStore

MODELS = ("fnn_online", "cnn_online")


def pen_drawings(n: int = 300) -> list[dict]:
    return [{"image": "data:image/png;base64," + base64.b64encode(render_pendigit(d)).decode(), "label": d.label}
            for d in load_pendigits("test")[:n]]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class CpuAccount:
    """Cores each process used over a phase: where the machine's 2 cores went."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = {**pids, "clients (this script)": [os.getpid()]}

    def __enter__(self) -> "CpuAccount":
        self.start = time.perf_counter(), machine_busy_seconds(), self._per_role()
        return self

    def __exit__(self, *exc) -> None:
        wall, busy, per_role = self.start
        wall = time.perf_counter() - wall
        self.cores = {role: round((used - per_role[role]) / wall, 2) for role, used in self._per_role().items()}
        self.cores["whole machine"] = round((machine_busy_seconds() - busy) / wall, 2)

    def _per_role(self) -> dict[str, float]:
        return {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in self.pids.items()}


def record_time(created: str) -> float:
    return datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Posts:
    """POSTed drawings: wall time sent, latency, answer."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.latency: list[float] = []
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()

    def post(self, client: httpx.Client, body: dict) -> None:
        wall, started = time.time(), time.perf_counter()
        response = client.post("/api/drawings", json=body)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.statuses[response.status_code] += 1
            self.latency.append(elapsed * 1000)
            if response.status_code == 201:
                self.sent[response.json()["id"]] = wall


def closed_loop(urls: list[str], bodies: list[dict], clients: int, seconds: float, wait: bool) -> Posts:
    posts, deadline = Posts(), time.perf_counter() + seconds

    def run(index: int) -> None:
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60) as client:
            n = index
            while time.perf_counter() < deadline:
                posts.post(client, {**bodies[n % len(bodies)], "wait": wait})
                n += clients

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    return posts


def open_loop(urls: list[str], bodies: list[dict], rate: float, seconds: float) -> Posts:
    """One drawing every 1/rate s, each on its own thread so a slow answer does not slow the rate."""
    posts = Posts()
    clients = [httpx.Client(base_url=url, timeout=60) for url in urls]
    with ThreadPoolExecutor(64) as pool:
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            pool.submit(posts.post, clients[n % len(clients)], {**bodies[n % len(bodies)], "wait": False})
    for client in clients:
        client.close()
    return posts


def ledger(store: WeightStore, ids: set[str], timeout: float = 120) -> dict[str, dict[str, WeightStore]]:
    """Wait until every model learned every id; the first version of each, per model."""
    deadline = time.monotonic() + timeout
    while True:
        first = {m: {} for m in MODELS}
        for m in MODELS:
            for record in store.history(m):
                for d in record.drawings:
                    first[m].setdefault(d, record)
        if all(ids <= set(first[m]) for m in MODELS) or time.monotonic() > deadline:
            return first
        time.sleep(0.5)


def steps(store: WeightStore) -> int:
    head = store.current("cnn_online")
    return head.steps if head else 0


def learned(store: WeightStore, posts: Posts, posted_for: float) -> dict:
    """How fast the drawings of one phase were learned: per second over the phase, and each one's lag."""
    first = ledger(store, set(posts.sent))["cnn_online"]
    lags = [record_time(first[i].created) - t for i, t in posts.sent.items()]
    start = min(posts.sent.values())
    in_window = sum(record_time(first[i].created) <= start + posted_for for i in posts.sent)
    return {"drawings": len(posts.sent), "statuses": dict(posts.statuses),
            "learned_per_s": round(in_window / posted_for, 1), "lag_p50_s": round(pct(lags, 50), 2),
            "lag_p99_s": round(pct(lags, 99), 2), "post_p50_ms": round(pct(posts.latency, 50), 1),
            "post_p99_ms": round(pct(posts.latency, 99), 1)}


def measure(name: str, urls: list[str], store: WeightStore, bodies: list[dict], seconds: float, rate: float,
            pids: dict[str, list[int]]) -> dict:
    print(f"\n== {name}")
    out: dict = {"setup": name}
    # 1. capacity: a steady `rate` drawings/s from 16 connections, wait: false
    with CpuAccount(pids) as cpu:
        posts = open_loop(urls, bodies, rate, seconds)
    out["capacity"] = {"offered_per_s": rate, **learned(store, posts, seconds), "cpu_cores": cpu.cores}
    print(f"  {rate:g} drawings/s offered, wait false: {out['capacity']}")
    # 2. learn lag at 20 drawings/s
    out["lag_at_20_per_s"] = learned(store, open_loop(urls, bodies, 20, seconds), seconds)
    print(f"  20 drawings/s offered, wait false: {out['lag_at_20_per_s']}")
    # 3. 16 clients as the page posts (wait: true), each sending its next drawing when answered
    started = time.perf_counter()
    posts = closed_loop(urls, bodies, clients=16, seconds=seconds, wait=True)
    out["page_16_clients"] = learned(store, posts, time.perf_counter() - started)
    print(f"  16 clients, wait true: {out['page_16_clients']}")
    # 4. the default wait at light load
    out["page_4_clients"] = learned(store, closed_loop(urls, bodies, clients=4, seconds=seconds / 2, wait=True),
                                    seconds / 2)
    print(f"  4 clients, wait true: {out['page_4_clients']}")
    # 5. the ledger: one step per drawing, each in exactly one version
    head = store.current("cnn_online")
    for m in MODELS:
        held = [d for r in store.history(m) for d in r.drawings]
        assert len(held) == len(set(held)) == store.current(m).steps, f"{m}: a drawing learned twice"
    out["ledger"] = {"drawings": head.steps, "versions": head.version, "each_exactly_once": True,
                     "mean_batch": round(head.steps / head.version, 1)}
    print(f"  ledger: {out['ledger']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=32, help="drawings/s offered in the capacity phase")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    bodies = pen_drawings()
    results = []
    with tempfile.TemporaryDirectory() as tmp, SeaweedFS(Path(tmp) / "weed") as weed, \
            RedisServer(Path(tmp) / "redis") as redis:
        base = {**UNLIMITED, **weed.env(), "INKLING_STORAGE": "s3", "INKLING_S3_ENDPOINT_URL": weed.endpoint_url,
                "INKLING_S3_PREFIX": "bench"}

        def fresh() -> tuple[dict, WeightStore]:
            bucket = weed.create_bucket()
            return ({**base, "INKLING_S3_BUCKET": bucket},
                    WeightStore(S3Objects(weed.client(), bucket, "bench")))

        env, store = fresh()
        servers = {"seaweedfs": [weed.pid], "redis": [redis.process.pid]}
        with LiveService(Path(tmp) / "embedded", env) as one:
            results.append(measure("embedded: 1 process (web + learner), in-process queue", [one.base_url], store,
                                   bodies, args.seconds, args.rate, {"web + learner": [one.process.pid], **servers}))
        env, store = fresh()
        env = {**env, "INKLING_QUEUE_URL": redis.url, "INKLING_QUEUE_NAME": "bench-" + secrets.token_hex(4)}
        web = {**env, "INKLING_ROLE": "web"}
        with LiveLearner(Path(tmp) / "learner", env) as learner, LiveService(Path(tmp) / "a", web) as a, \
                LiveService(Path(tmp) / "b", web) as b:
            results.append(measure("scale-out: 2 web workers + 1 learner, Redis", [a.base_url, b.base_url], store,
                                   bodies, args.seconds, args.rate,
                                   {"learner": [learner.process.pid],
                                    "web workers": [a.process.pid, b.process.pid], **servers}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
