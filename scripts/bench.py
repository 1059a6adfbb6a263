#!/usr/bin/env python
"""End-to-end speed over HTTP, against real uvicorn servers started here, side by side with the seed's design.

    python scripts/bench.py [--seconds 10] [--json artifacts/bench.json] [--no-s3]

Measures, in one run:
- POST /api/predict at concurrency 1 and 16: client p50/p99, server time
  (the Server-Timing header), requests/s; for Inkling and for the naive
  design (one Keras ``model.predict`` per model per request, scripts/naive_app.py);
- POST /api/drawings (store + 24-way augment + both learn steps + persist):
  p50/p99 on the local store and on SeaweedFS (a real S3 server);
- start-up (process start to /healthz ready) and resident memory of one worker.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from models.data import load_pendigits  # noqa: E402
from models.render import render_pendigit  # noqa: E402
from tests.live_service import LiveService  # noqa: E402

UNLIMITED = {"INKLING_DRAWINGS_BURST": "1000000", "INKLING_DRAWINGS_PER_MINUTE": "1000000"}


def drawings(n: int = 200) -> list[tuple[str, int]]:
    return [("data:image/png;base64," + base64.b64encode(render_pendigit(d)).decode(), d.label)
            for d in load_pendigits("test")[:n]]


def server_ms(response: httpx.Response) -> float:
    match = re.search(r"dur=([\d.]+)", response.headers.get("server-timing", ""))
    return float(match.group(1)) if match else float("nan")


def load(base_url: str, path: str, bodies: list[dict], concurrency: int, seconds: float, max_requests: int) -> dict:
    """``concurrency`` clients posting ``bodies`` in turn for ``seconds`` (or ``max_requests``)."""
    latencies, server, errors = [], [], []
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + seconds

    def client_loop():
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while time.perf_counter() < deadline:
                try:
                    i = next(counter)
                except StopIteration:
                    return
                start = time.perf_counter()
                r = client.post(path, json=bodies[i % len(bodies)])
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    (latencies if r.status_code < 300 else errors).append(elapsed)
                    server.append(server_ms(r))

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(client_loop)
    wall = time.perf_counter() - started
    return {"requests": len(latencies), "errors": len(errors), "rps": len(latencies) / wall,
            "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
            "server_p50_ms": float(np.nanpercentile(server, 50)), "server_p99_ms": float(np.nanpercentile(server, 99))}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_timed(service: LiveService) -> float:
    started = time.perf_counter()
    service.start()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per predict measurement")
    parser.add_argument("--drawings", type=int, default=60, help="drawings per learn measurement")
    parser.add_argument("--json", type=Path, default=Path("artifacts/bench.json"))
    parser.add_argument("--no-s3", action="store_true", help="skip the SeaweedFS run")
    args = parser.parse_args()

    samples = drawings()
    predict_bodies = [{"image": image} for image, _ in samples]
    learn_bodies = [{"image": image, "label": label} for image, label in samples]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, app in (("inkling", "service.app:app"), ("naive", "scripts.naive_app:app")):
            service = LiveService(tmp / name, UNLIMITED, app=app)
            startup = start_timed(service)
            try:
                load(service.base_url, "/api/predict", predict_bodies, 1, 2, 100)  # warm-up
                r = results[name] = {"startup_s": startup, "rss_mb": rss_mb(service.process.pid)}
                for c in (1, 16):
                    r[f"predict_c{c}"] = load(service.base_url, "/api/predict", predict_bodies, c, args.seconds, 100000)
                if name == "inkling":
                    r["learn_local"] = load(service.base_url, "/api/drawings", learn_bodies, 1, 120, args.drawings)
                    r["rss_after_mb"] = rss_mb(service.process.pid)
            finally:
                service.stop()
        if not args.no_s3:
            from tests.seaweedfs import SeaweedFS

            with SeaweedFS(tmp / "weed") as s3:
                bucket = s3.create_bucket("bench")
                env = {**UNLIMITED, **s3.env(), "INKLING_STORAGE": "s3", "INKLING_S3_BUCKET": bucket,
                       "INKLING_S3_ENDPOINT_URL": s3.endpoint_url}
                with LiveService(tmp / "s3", env) as service:
                    load(service.base_url, "/api/predict", predict_bodies, 1, 1, 20)
                    results["inkling"]["predict_s3_c16"] = load(service.base_url, "/api/predict", predict_bodies,
                                                                16, args.seconds, 100000)
                    results["inkling"]["learn_s3"] = load(service.base_url, "/api/drawings", learn_bodies, 1, 120,
                                                          args.drawings)

    ink, naive = results["inkling"], results["naive"]
    print("| measure | Inkling | naive (Keras predict) | ratio | target |\n|---|---|---|---|---|")
    for c in (1, 16):
        a, b = ink[f"predict_c{c}"], naive[f"predict_c{c}"]
        print(f"| predict c={c}: server p50 / p99 | {a['server_p50_ms']:.1f} / {a['server_p99_ms']:.1f} ms "
              f"| {b['server_p50_ms']:.1f} / {b['server_p99_ms']:.1f} ms | {b['server_p50_ms'] / a['server_p50_ms']:.1f}x faster "
              f"| {'p50 <= 10 ms' if c == 1 else ''} |")
        print(f"| predict c={c}: client p50 / p99 | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} ms "
              f"| {b['p50_ms']:.1f} / {b['p99_ms']:.1f} ms | {b['p50_ms'] / a['p50_ms']:.1f}x | |")
        print(f"| predict c={c}: requests/s | {a['rps']:.0f} | {b['rps']:.0f} | {a['rps'] / b['rps']:.1f}x "
              f"| {'>= 150' if c == 16 else ''} |")
    for key, label in (("learn_local", "local store"), ("learn_s3", "SeaweedFS")):
        if key in ink:
            a = ink[key]
            print(f"| POST /api/drawings ({label}): p50 / p99 | {a['p50_ms']:.0f} / {a['p99_ms']:.0f} ms "
                  f"(server {a['server_p50_ms']:.0f}) | | | p50 <= 150 ms |")
    if "predict_s3_c16" in ink:
        print(f"| predict c=16 on SeaweedFS: requests/s | {ink['predict_s3_c16']['rps']:.0f} | | | |")
    print(f"| start-up to /healthz ready | {ink['startup_s']:.1f} s | {naive['startup_s']:.1f} s | | |")
    print(f"| resident memory, one worker | {ink['rss_mb']:.0f} MB ({ink['rss_after_mb']:.0f} MB after learning) "
          f"| {naive['rss_mb']:.0f} MB | | |")
    errors = sum(v.get("errors", 0) for r in results.values() for v in r.values() if isinstance(v, dict))
    print(f"\nnon-2xx responses: {errors}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
