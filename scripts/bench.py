#!/usr/bin/env python
"""Serving speed and memory over real HTTP, side by side with the previous release, in one run.

    python scripts/bench.py [--seconds 10] [--baseline REF] [--json docs/bench.json]

Measures, on this machine:

- **Stages.** The CPU time of each stage of one ``POST /api/predict`` (in this
  process, one thread): body validation, base64, PNG decode, preprocessing, each
  model, the ensemble, the response; and how many requests/s 2 cores would allow
  if only the models' arithmetic remained. Also the four models on a batch of 16
  drawings, per drawing: what dynamic batching could save.
- **Set-ups**, each started here on 127.0.0.1: the previous release (``--baseline``,
  default the commit before light web workers: one worker that serves with
  TensorFlow; run from a temporary git worktree), the embedded default now (serves
  and learns in one process), and 1 and 2 web workers (``INKLING_ROLE=web``, a
  real Redis, a shared local store). For each: start-up to ``/healthz`` ready,
  resident memory after warm-up and 1,000 predictions, 1 client (server time
  from ``Server-Timing``), 16 clients (requests/s, p50, p99) for ``--seconds``,
  and the servers' CPU per request. Each is sent the drawings as its page sends them:
  8-bit gray PNGs (``frontend/js/png.js``), the baseline the canvas's own RGBA PNG;
  2 web workers are also measured with RGBA PNGs, as other clients may send.

The load generator runs in this process: asyncio, raw HTTP/1.1 on keep-alive
connections, ~0.1 ms of CPU a request, its clients spread evenly over the
workers as a load balancer would (``uvicorn --workers 2`` shares one socket,
and then one process can take all 16 connections). It shares the 2 cores with
the servers, so read the ratios: the figures are for this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the service runs (service/__init__.py), before numpy loads

import numpy as np  # noqa: E402

from inkling_testkit.live_service import LiveService  # noqa: E402
from inkling_testkit.load_client import UNLIMITED  # noqa: E402
from inkling_testkit.processes import cpu_seconds, rss_mb  # noqa: E402
from inkling_testkit.redis_server import RedisServer  # noqa: E402
from lab.data import load_pendigits  # noqa: E402
from lab.render import render_pendigit  # noqa: E402

BASELINE = "9c9b687"  # the last commit whose workers serve with TensorFlow
PREDICTIONS_BEFORE_MEMORY = 1000


def page_png(rgba_png: bytes) -> bytes:
    """The PNG the page sends for a canvas (frontend/js/png.js): 8-bit gray, unfiltered rows, zlib's default level."""
    import struct
    import zlib
    from io import BytesIO

    from PIL import Image

    gray = np.asarray(Image.open(BytesIO(rgba_png)).convert("L"))
    rows = np.concatenate([np.zeros((len(gray), 1), np.uint8), gray], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", gray.shape[1], gray.shape[0], 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def predict_bodies(n: int = 200) -> tuple[list[bytes], list[bytes]]:
    """Pen digits of the pendigits test writers as the page sends them (png.js's gray PNG), and the same as a
    canvas's own PNG (RGBA: what the page sent before png.js, and what other clients may send)."""
    from io import BytesIO

    from PIL import Image

    def body(png: bytes) -> bytes:
        return json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}).encode()

    gray, rgba = [], []
    for digit in load_pendigits("test")[:n]:
        png = BytesIO()
        Image.open(BytesIO(render_pendigit(digit))).convert("RGBA").save(png, format="PNG")
        gray.append(body(page_png(png.getvalue())))
        rgba.append(body(png.getvalue()))
    return gray, rgba


# --- load ----------------------------------------------------------------------------------


async def _load(ports: list[int], bodies: list[bytes], clients: int, seconds: float, max_requests: int,
                path: str = "/api/predict") -> dict:
    latencies, server, errors = [], [], 0
    deadline = time.perf_counter() + seconds
    sent = 0

    async def client(k: int) -> None:
        nonlocal errors, sent
        port = ports[k % len(ports)]
        requests = [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            start = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += clients
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)))
            elapsed = (time.perf_counter() - start) * 1000
            if head[9:12] != b"200":
                errors += 1
                continue
            latencies.append(elapsed)
            timing = re.search(rb"(?i)server-timing: *app;dur=([\d.]+)", head)
            server.append(float(timing.group(1)) if timing else float("nan"))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / wall,
            "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
            "server_p50_ms": float(np.nanpercentile(server, 50)), "server_p99_ms": float(np.nanpercentile(server, 99))}


def load(ports: list[int], bodies: list[bytes], clients: int, seconds: float = 3600,
         max_requests: int = 10**9, path: str = "/api/predict") -> dict:
    return asyncio.run(_load(ports, bodies, clients, seconds, max_requests, path))


def measure(services: list[LiveService], startup_s: float, bodies: list[bytes], seconds: float) -> dict:
    ports, pids = [s.port for s in services], [s.process.pid for s in services]
    load(ports, bodies, 1, max_requests=100)  # warm-up
    r = {"startup_s": startup_s}
    for port in ports:
        r["c1"] = load([port], bodies, 1, max_requests=PREDICTIONS_BEFORE_MEMORY)
    r["rss_mb"] = max(rss_mb(pid) for pid in pids)
    before, generator = sum(cpu_seconds(pid) for pid in pids), time.process_time()
    r["c16"] = load(ports, bodies, 16, seconds)
    r["server_cpu_ms"] = (sum(cpu_seconds(pid) for pid in pids) - before) / r["c16"]["requests"] * 1000
    r["generator_cpu_ms"] = (time.process_time() - generator) / r["c16"]["requests"] * 1000
    r["rss_after_load_mb"] = max(rss_mb(pid) for pid in pids)
    return r


def start(services: list[LiveService]) -> float:
    """Start them one after another, as a platform does; the slowest one's time to ready."""
    times = []
    for service in services:
        started = time.perf_counter()
        service.start()
        times.append(time.perf_counter() - started)
    return max(times)


# --- stages --------------------------------------------------------------------------------


def stage_costs(body: bytes, rgba_body: bytes, repeats: int = 500) -> dict[str, float]:
    """CPU ms of each stage of one predict request (``body`` as the page sends it), in this process on
    one thread; and the decoding of ``rgba_body``, the same drawing as the canvas's own PNG."""
    from models import load_original
    from models.alphabets import load_alphabet
    from models.ensemble import combine
    from models.preprocess import decode_image_payload, fit_and_center, load_ink
    from service.web import schemas
    from service.web.recognizer import MODEL_ORDER, Recognition

    def cpu(fn) -> float:
        for _ in range(20):
            fn()
        start = time.process_time()
        for _ in range(repeats):
            fn()
        return (time.process_time() - start) / repeats * 1000

    url = json.loads(body)["image"]
    png = decode_image_payload(url)
    rgba_png = decode_image_payload(json.loads(rgba_body)["image"])
    ink = load_ink(png)
    digits = load_alphabet("digits")
    x = fit_and_center(ink, digits.box)
    models = {"fnn": load_original("fnn", "digits", serving=True), "cnn": load_original("cnn", "digits", serving=True)}
    probs = {name: models[name.split("_")[0]].predict_proba(x[None])[0] for name in MODEL_ORDER}
    _, embedding = models["cnn"].predict_and_embed(x[None])
    recognition = Recognition(probs, combine(probs, digits.ensemble_weights), {"fnn_online": 0, "cnn_online": 0}, x,
                              embedding[0], digits)
    out = schemas.PredictOut.model_validate(recognition.to_json())
    batch = np.repeat(x[None], 16, axis=0)
    costs = {
        "body: JSON + validation": cpu(lambda: schemas.ImageIn.model_validate_json(body)),
        "base64": cpu(lambda: decode_image_payload(url)),
        "PNG decode and ink": cpu(lambda: load_ink(png)),
        "(the same from the canvas's own RGBA PNG)": cpu(lambda: load_ink(rgba_png)),
        "crop, fit, centre": cpu(lambda: fit_and_center(ink, digits.box)),
        "FNN (x2: original, online)": 2 * cpu(lambda: models["fnn"].predict_proba(x[None])),
        "CNN (x2: original, online)": 2 * cpu(lambda: models["cnn"].predict_proba(x[None])),
        "(after a promotion: the shipped CNN's features, one more CNN pass)": cpu(
            lambda: models["cnn"].forward(x[None])),
        "ensemble": cpu(lambda: combine(probs, digits.ensemble_weights)),
        "response: top-3 and JSON": cpu(lambda: schemas.PredictOut.model_validate(recognition.to_json()))
                                    + cpu(lambda: out.model_dump_json()),
    }
    costs["four models, batch of 16, per drawing"] = 2 * sum(
        cpu(lambda m=m: m.predict_proba(batch)) for m in models.values()) / 16
    try:
        from models.cnn import CNN

        keras = CNN.from_bytes(models["cnn"].to_bytes())
        costs["CNN in TensorFlow (x2), for comparison"] = 2 * cpu(lambda: keras.predict_proba(x[None]))
    except ImportError:
        pass
    return costs


# --- main ----------------------------------------------------------------------------------


def report(rows, results: dict, names: list[str], json_path: Path) -> None:
    """The table's ``rows`` (label, cell of one run's figures) for the runs ``names``, the non-200 count, and
    every figure written to ``json_path``."""
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")
    errors = sum(results[n][k]["errors"] for n in names for k in ("c1", "c16"))
    print(f"\nnon-200 responses: {errors}")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2))


@contextlib.contextmanager
def worktree(ref: str):
    path = Path(tempfile.mkdtemp(prefix="inkling-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), ref],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per 16-client measurement")
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the release to compare with")
    parser.add_argument("--json", type=Path, default=Path("artifacts/bench.json"))
    args = parser.parse_args()

    bodies, rgba_bodies = predict_bodies()
    results: dict = {"stages_ms": stage_costs(bodies[0], rgba_bodies[0])}
    unlimited = UNLIMITED
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis:
        tmp = Path(tmp)
        web = {**unlimited, "INKLING_ROLE": "web", "INKLING_QUEUE_URL": redis.url, "INKLING_QUEUE_NAME": "bench"}
        with worktree(args.baseline) as before:
            # Each set-up is sent what its page sends: the baseline's page sent the canvas's own RGBA PNG.
            setups = {
                f"before ({args.baseline}): 1 TensorFlow worker": ([LiveService(tmp / "before", unlimited, cwd=before)],
                                                                   rgba_bodies),
                "embedded default (serves and learns)": ([LiveService(tmp / "embedded", unlimited)], bodies),
                "1 web worker": ([LiveService(tmp / "web1", web)], bodies),
                "2 web workers": ([LiveService(tmp / "web2", web), LiveService(tmp / "web2", web)], bodies),
                "2 web workers, sent RGBA PNGs": ([LiveService(tmp / "rgba", web), LiveService(tmp / "rgba", web)],
                                                  rgba_bodies),
            }
            for name, (services, sent) in setups.items():
                with contextlib.ExitStack() as stack:
                    startup = start(services)
                    for service in services:
                        stack.callback(service.stop)
                    results[name] = measure(services, startup, sent, args.seconds)
                    print(f"measured: {name}", file=sys.stderr)

    stages = results["stages_ms"]
    print("| stage of one predict | CPU ms |\n|---|---|")
    for stage, ms in stages.items():  # (lines in brackets are alternatives or additions, not stages)
        print(f"| {stage} | {ms:.3f} |")
    models_ms = stages["FNN (x2: original, online)"] + stages["CNN (x2: original, online)"]
    print(f"\nIf only the models' arithmetic remained: {models_ms:.2f} ms a request, "
          f"{2000 / models_ms:.0f} requests/s on 2 cores.\n")

    names = [n for n in results if n != "stages_ms"]
    print("| measure | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    rows = [
        ("start-up to /healthz ready", lambda r: f"{r['startup_s']:.1f} s"),
        (f"resident memory after {PREDICTIONS_BEFORE_MEMORY:,} predictions (per worker)", lambda r: f"{r['rss_mb']:.0f} MB"),
        ("the same after the 16-client run", lambda r: f"{r['rss_after_load_mb']:.0f} MB"),
        ("1 client: server p50 / p99", lambda r: f"{r['c1']['server_p50_ms']:.2f} / {r['c1']['server_p99_ms']:.2f} ms"),
        ("16 clients: requests/s", lambda r: f"{r['c16']['rps']:.0f}"),
        ("16 clients: p50 / p99", lambda r: f"{r['c16']['p50_ms']:.0f} / {r['c16']['p99_ms']:.0f} ms"),
        ("servers' CPU per request", lambda r: f"{r['server_cpu_ms']:.2f} ms"),
        ("load generator's CPU per request", lambda r: f"{r['generator_cpu_ms']:.2f} ms"),
    ]
    report(rows, results, names, args.json)


if __name__ == "__main__":
    main()
