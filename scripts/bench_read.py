#!/usr/bin/env python
"""What reading a number costs beside a single prediction, over real HTTP, in one run.

    python scripts/bench_read.py [--seconds 10] [--json docs/bench_read.json]

Starts 2 web workers (``INKLING_ROLE=web``, a real Redis, a shared local store) on 127.0.0.1, as
``scripts/bench.py`` does, and sends them, one kind at a time: single predictions (``POST /api/predict``, a
pendigits test digit as the page sends it), and reads (``POST /api/read``) of numbers of 2, 4 and 8 digits
written by the pendigits test writers (:mod:`lab.numbers`, none touching), each the pad's PNG as the page sends it
(8-bit gray) with its strokes. For each: 1 client (server time from ``Server-Timing``: p50, p99) and 16 clients
(requests/s, p50, p99), and the servers' CPU per request. Also, in this process on one thread, the CPU of each
stage of reading an 8-digit number. The figures are for this machine (2 cores shared with the load generator):
read the ratios.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import bench  # noqa: E402  (scripts/bench.py: the load generator, the page's PNG)
from inkling_testkit.live_service import LiveService  # noqa: E402
from inkling_testkit.load_client import UNLIMITED  # noqa: E402
from inkling_testkit.processes import cpu_seconds  # noqa: E402
from inkling_testkit.redis_server import RedisServer  # noqa: E402
from lab.data import load_pendigits  # noqa: E402
from lab.numbers import make_numbers  # noqa: E402
from lab.render import render_pad  # noqa: E402

LENGTHS = (2, 4, 8)


def read_bodies(length: int, n: int = 100) -> tuple[list[bytes], list]:
    numbers = make_numbers(load_pendigits("test"), n, np.random.default_rng(length), lengths=(length, length),
                           touching=0.0)
    bodies = []
    for number in numbers:
        png = bench.page_png(render_pad(number.strokes))
        bodies.append(json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode(),
                                  "strokes": number.strokes}).encode())
    return bodies, numbers


def stages(body: bytes, repeats: int = 30) -> dict[str, float]:
    """CPU ms of each stage of reading one number (in this process, one thread)."""
    from models.alphabets import load_alphabet
    from models.canvas import PAD
    from models.preprocess import decode_image_payload
    from models.segment import group_parts, stroke_boxes
    from models.strokes import check_strokes
    from read_numbers import recognizer
    from service.web import reader, schemas

    rec, alphabet = recognizer()
    request = json.loads(body)
    png, strokes = decode_image_payload(request["image"]), request["strokes"]

    def cpu(fn) -> float:
        fn()
        start = time.process_time()
        for _ in range(repeats):
            fn()
        return (time.process_time() - start) / repeats * 1000

    checked = reader.on_pad(check_strokes(strokes), PAD)
    pad = reader._prepare(png, checked, PAD)
    pieces = group_parts(pad.boxes, pad.line_width)
    batch = np.stack([reader._x28(pad, piece, alphabet.box) for piece in pieces])
    reading = reader.read_number(rec.recognize_batch, png, strokes, PAD, alphabet.box)
    return {
        "body: JSON + validation": cpu(lambda: schemas.ReadIn.model_validate_json(body)),
        "strokes checked": cpu(lambda: check_strokes(strokes)),
        "PNG decode and ink": cpu(lambda: reader.pad_ink(png, PAD)),
        "grouping": cpu(lambda: group_parts(stroke_boxes(checked, PAD.line_width), PAD.line_width)),
        "characters drawn anew, fitted and centred": cpu(lambda: [reader._x28(pad, p, alphabet.box) for p in pieces]),
        f"four models + gate + ensemble, batch of {len(batch)}": cpu(lambda: rec.recognize_batch(batch)),
        "one drawing's four models + gate + ensemble": cpu(lambda: rec.recognize(batch[0])),
        "the whole reading (all of the above but the body)": cpu(
            lambda: reader.read_number(rec.recognize_batch, png, strokes, PAD, alphabet.box)),
        "response: JSON": cpu(lambda: schemas.ReadOut.model_validate(reading.to_json()).model_dump_json()),
    }


def measure(ports, pids, bodies, path, seconds) -> dict:
    bench.load(ports, bodies, 1, max_requests=50, path=path)  # warm-up
    r = {"c1": bench.load(ports[:1], bodies, 1, max_requests=300, path=path)}
    before = sum(cpu_seconds(pid) for pid in pids)
    r["c16"] = bench.load(ports, bodies, 16, seconds, path=path)
    r["server_cpu_ms"] = (sum(cpu_seconds(pid) for pid in pids) - before) / max(1, r["c16"]["requests"]) * 1000
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per 16-client measurement")
    parser.add_argument("--json", type=Path, default=Path("artifacts/bench_read.json"))
    args = parser.parse_args()

    predict, _ = bench.predict_bodies()
    reads = {length: read_bodies(length)[0] for length in LENGTHS}
    results: dict = {"stages_ms (8 digits)": stages(reads[8][0])}
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis:
        env = {**UNLIMITED, "INKLING_ROLE": "web", "INKLING_QUEUE_URL": redis.url, "INKLING_QUEUE_NAME": "bench"}
        services = [LiveService(Path(tmp) / "web", env), LiveService(Path(tmp) / "web", env)]
        with contextlib.ExitStack() as stack:
            for service in services:
                service.start()
                stack.callback(service.stop)
            ports, pids = [s.port for s in services], [s.process.pid for s in services]
            kinds = {"single prediction": (predict, "/api/predict"),
                     **{f"read, {n} digits": (reads[n], "/api/read") for n in LENGTHS}}
            for name, (bodies, path) in kinds.items():
                results[name] = measure(ports, pids, bodies, path, args.seconds)
                print(f"measured: {name}", file=sys.stderr)

    print("| stage of reading an 8-digit number | CPU ms |\n|---|---|")
    for stage, ms in results["stages_ms (8 digits)"].items():
        print(f"| {stage} | {ms:.2f} |")
    names = [n for n in results if not n.startswith("stages")]
    single = results["single prediction"]
    print("\n| 2 web workers | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    rows = [
        ("1 client: server p50 / p99", lambda r: f"{r['c1']['server_p50_ms']:.2f} / {r['c1']['server_p99_ms']:.2f} ms"),
        ("... against a single prediction (p50)", lambda r: f"{r['c1']['server_p50_ms'] / single['c1']['server_p50_ms']:.1f}x"),
        ("16 clients: requests/s", lambda r: f"{r['c16']['rps']:.0f}"),
        ("16 clients: p50 / p99", lambda r: f"{r['c16']['p50_ms']:.0f} / {r['c16']['p99_ms']:.0f} ms"),
        ("servers' CPU per request", lambda r: f"{r['server_cpu_ms']:.2f} ms"),
        ("... against a single prediction", lambda r: f"{r['server_cpu_ms'] / single['server_cpu_ms']:.1f}x"),
    ]
    bench.report(rows, results, names, args.json)


if __name__ == "__main__":
    main()
