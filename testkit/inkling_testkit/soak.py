"""The memory soak: the web image under a 512 MB memory cgroup and the learner under 1 GB, as a Heroku web dyno
and a standard-2x worker dyno would hold them, serving people who draw, for minutes (``scripts/soak.py``;
``tests/test_containers.py`` runs a short one).

Each of ``clients`` simulated people draws as the page makes them: after each of a few strokes a prediction
and the feature maps (``POST /api/predict``, ``POST /api/activations``) a quarter of a second apart, then,
one drawing in two, saves it with its label (``POST /api/drawings``, waiting for the version that learned it,
as the page does), then pauses. Resident memory of each container (all its processes) and its cgroup's
usage, peak and out-of-memory kills are sampled every ``sample_every`` seconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from .containers import Container, Network, images, make_bucket, redis_server, s3_server, stack_env
from .load_client import UNLIMITED, pendigit_drawings, percentile

STROKES, STROKE_SECONDS, SAVE_SHARE, PAUSE_SECONDS = 4, 0.25, 0.5, 3.0


def person(base_url: str, seed: int, deadline: float, stop: threading.Event, drawings, max_requests: int = 20_000):
    """One simulated person until ``deadline``; returns (kind, seconds, status) of every request (status None:
    no answer after a second try) and the transport errors met (each retried once)."""
    rng, done, errors = random.Random(seed), [], []
    with httpx.Client(base_url=base_url, timeout=30) as client:

        def send(kind: str, path: str, payload: dict) -> None:
            started, status = time.monotonic(), None
            for attempt in range(2):  # as a browser does when a kept-alive connection was closed under it
                try:
                    status = client.post(path, json=payload).status_code
                    break
                except httpx.TransportError as exc:
                    errors.append(f"{kind}: {exc!r}"[:200])
            done.append((kind, time.monotonic() - started, status))

        time.sleep(rng.uniform(0, PAUSE_SECONDS))  # people do not arrive in step
        while time.monotonic() < deadline and not stop.is_set() and len(done) < max_requests:
            drawing = rng.choice(drawings)
            for _ in range(STROKES):
                send("predict", "/api/predict", {"image": drawing.data_url})
                send("activations", "/api/activations", {"image": drawing.data_url})
                stop.wait(STROKE_SECONDS)
            if rng.random() < SAVE_SHARE:
                send("drawing", "/api/drawings", {"image": drawing.data_url, "label": drawing.label, "train": True})
            stop.wait(rng.uniform(0.5, 1.5) * PAUSE_SECONDS)
    return done, errors


def run_soak(seconds: float = 600, clients: int = 64, *, web_memory: str = "512m", learner_memory: str = "1g",
             web_concurrency: int = 2, sample_every: float = 5.0, say=print) -> dict:
    """Start the stack, soak it, stop it; the figures as a dict (see ``scripts/soak.py`` for their meaning)."""
    drawings = pendigit_drawings(200)
    with Network("inkling-soak") as network:
        redis, s3 = redis_server(network).start(), s3_server(network).start()
        containers = [redis, s3]
        try:
            make_bucket(s3, "inkling")
            # Every simulated person is 127.0.0.1: no rate limits, no cap on one address's connections.
            env = stack_env("inkling", **UNLIMITED, INKLING_MAX_CONNECTIONS_PER_CLIENT="0")
            learner = Container("learner", images()["full"], network=network, env=env, memory=learner_memory,
                                command=("python", "-m", "service.learner"), options=("--no-healthcheck",))
            web = Container("web", images()["web"], network=network, publish=8000, memory=web_memory,
                            env={**env, "WEB_CONCURRENCY": str(web_concurrency)})
            containers += [learner, web]
            learner.start()
            web.start()
            healthy_s = web.wait_healthy()
            learner.wait_for_log("learning: versions")
            say(f"web healthy in {healthy_s:.1f} s; soaking {seconds:.0f} s with {clients} people")

            samples, stop = [], threading.Event()
            started = time.monotonic()
            deadline = started + seconds

            def sample() -> None:
                while not stop.is_set():
                    row = {"t": round(time.monotonic() - started, 1)}
                    for role, container in (("web", web), ("learner", learner)):
                        memory = container.cgroup_memory()
                        row[role] = {"rss_mb": round(container.rss_mb(), 1), "cgroup_mb": round(memory["usage_mb"], 1),
                                     "oom_kills": memory["oom_kills"]}
                    samples.append(row)
                    stop.wait(sample_every)

            sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
            sampler.start()
            with ThreadPoolExecutor(clients, thread_name_prefix="person") as pool:
                futures = [pool.submit(person, web.base_url, i, deadline, stop, drawings) for i in range(clients)]
                results = [f.result() for f in futures]
                outcomes = [o for done, _ in results for o in done]
                errors = Counter(e for _, errs in results for e in errs)
            elapsed = time.monotonic() - started
            stop.set()
            sampler.join()
            with httpx.Client(base_url=web.base_url, timeout=10) as client:
                versions = client.get("/healthz").json()["versions"]
            final = {role: c.cgroup_memory() for role, c in (("web", web), ("learner", learner))}
            restarts = {role: c.state().get("RestartCount", 0) for role, c in (("web", web), ("learner", learner))}
        finally:
            for container in containers:
                container.remove()

    kinds = {}
    for kind in ("predict", "activations", "drawing"):
        times = [s * 1000 for k, s, status in outcomes if k == kind and status is not None]
        kinds[kind] = {"requests": sum(k == kind for k, _, _ in outcomes),
                       "statuses": dict(Counter(str(st) for k, _, st in outcomes if k == kind)),
                       "p50_ms": round(percentile(times, 50), 1), "p99_ms": round(percentile(times, 99), 1)}
    return {
        "seconds": round(elapsed, 1), "clients": clients, "web_concurrency": web_concurrency,
        "web_memory": web_memory, "learner_memory": learner_memory, "web_healthy_s": round(healthy_s, 1),
        "requests": len(outcomes), "requests_per_s": round(len(outcomes) / elapsed, 1), "kinds": kinds,
        "versions_after": versions,
        "peak_rss_mb": {role: max(s[role]["rss_mb"] for s in samples) for role in ("web", "learner")},
        "peak_cgroup_mb": {role: round(final[role]["peak_mb"], 1) for role in final},
        "oom_kills": {role: final[role]["oom_kills"] for role in final},
        "restarts": restarts,
        "transport_errors_retried": dict(errors),
        "samples": samples,
    }
