#!/usr/bin/env python
"""The 512 MB soak: the web image as a Heroku web dyno holds it, the learner as a 1 GB worker dyno, for minutes.

    scripts/container_images && python scripts/soak.py [--seconds 600] [--clients 64] [--json docs/soak.json]

Starts, with podman, Redis, S3 (SeaweedFS), the learner (the `full` image, ``--memory 1g``) and one web
container (the `web` image, ``--memory 512m``, no swap, ``WEB_CONCURRENCY`` uvicorn processes) on a network of
their own, then ``--clients`` simulated people draw on the web container for ``--seconds``: after each of 4
strokes a prediction and the feature maps, then one drawing in two saved with its label (waiting for the
version that learned it, as the page does), then a pause of 1.5-4.5 s (``inkling_testkit.soak``). Prints, and
writes to ``--json``: requests served by kind with p50/p99 and statuses, the containers' resident memory
every 5 s, their memory cgroups' peaks and out-of-memory kills, and restarts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inkling_testkit.soak import run_soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--web-concurrency", type=int, default=2, help="uvicorn processes in the web container")
    parser.add_argument("--web-memory", default="512m")
    parser.add_argument("--learner-memory", default="1g")
    parser.add_argument("--json", type=Path, help="write the figures here (e.g. docs/soak.json)")
    args = parser.parse_args()
    result = run_soak(args.seconds, args.clients, web_memory=args.web_memory, learner_memory=args.learner_memory,
                      web_concurrency=args.web_concurrency)
    for row in result["samples"][:: max(1, len(result["samples"]) // 20)]:
        print(f"t={row['t']:6.0f} s  web {row['web']['rss_mb']:6.1f} MB resident ({row['web']['cgroup_mb']:6.1f} "
              f"in its cgroup)  learner {row['learner']['rss_mb']:6.1f} MB ({row['learner']['cgroup_mb']:6.1f})")
    print(f"{result['requests']} requests in {result['seconds']:.0f} s ({result['requests_per_s']}/s), "
          f"{result['clients']} people, WEB_CONCURRENCY={result['web_concurrency']}")
    for kind, k in result["kinds"].items():
        print(f"  {kind:12s} {k['requests']:7d}  p50 {k['p50_ms']:7.1f} ms  p99 {k['p99_ms']:7.1f} ms  {k['statuses']}")
    print(f"peak resident: web {result['peak_rss_mb']['web']:.0f} MB (limit {result['web_memory']}), learner "
          f"{result['peak_rss_mb']['learner']:.0f} MB (limit {result['learner_memory']}); cgroup peaks "
          f"{result['peak_cgroup_mb']}; OOM kills {result['oom_kills']}; restarts {result['restarts']}; "
          f"versions {result['versions_after']}")
    if result["transport_errors_retried"]:
        print(f"transport errors, each retried once: {result['transport_errors_retried']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
