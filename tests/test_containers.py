"""The container images, run for real with podman: the `full` image alone, then the scale-out stack (two
`web` containers, the learner, Redis and S3) with containers killed and started again.

Marker ``container``; the images are built by ``scripts/container_images`` (CI runs it first). Skipped where
podman or the images are absent, unless INKLING_REQUIRE_CONTAINERS=1 (CI), where that fails instead.
The figures (time to healthy, resident memory per role) are printed as ``[figure]`` lines with ``-s``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time

from pathlib import Path

import httpx
import pytest

from inkling_testkit.containers import (Container, Network, compose_images, find_compose, find_podman, images,
                                        make_bucket, missing_images, podman, redis_server, s3_client, s3_server,
                                        stack_env, suffix)
from inkling_testkit.live_service import free_port
from inkling_testkit.load_client import UNLIMITED, assert_learned_exactly_once, pendigit_drawings

pytestmark = pytest.mark.container
ROOT = Path(__file__).resolve().parent.parent


def _require_images() -> None:
    problem = ("podman not installed" if find_podman() is None
               else (f"images not built ({', '.join(missing)}): run scripts/container_images"
                     if (missing := missing_images()) else None))
    if problem and os.environ.get("INKLING_REQUIRE_CONTAINERS") == "1":
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module", autouse=True)
def built_images():
    _require_images()


@pytest.fixture(scope="module")
def drawings():
    return pendigit_drawings(40)


def post_drawing(client: httpx.Client, drawing, **fields) -> dict:
    response = client.post("/api/drawings", json={"image": drawing.data_url, "label": drawing.label, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def in_image(image: str, code: str) -> str:
    """What ``code`` prints in a fresh container of ``image``; Python must start without a word on stderr."""
    done = subprocess.run([find_podman(), "run", "--rm", "--no-healthcheck", "--entrypoint", "python", image, "-c", code],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout


def test_web_image_has_no_tensorflow_and_full_has_it():
    probe = ("import importlib.util as u, os; print(os.getuid(), os.environ.get('INKLING_ROLE'), "
             "*(u.find_spec(m) is not None for m in ('tensorflow', 'skimage', 'numpy', 'fastapi')))")
    assert in_image(images()["web"], probe).split() == ["10001", "web", "False", "False", "True", "True"]
    assert in_image(images()["full"], probe).split() == ["10001", "None", "True", "True", "True", "True"]


def test_web_image_alone_refuses_to_start_without_a_queue():
    done = subprocess.run([find_podman(), "run", "--rm", "--no-healthcheck", images()["web"]], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "INKLING_ROLE=web needs INKLING_QUEUE_URL" in done.stdout + done.stderr


def test_full_image_alone_serves_on_port_and_learns(drawings):
    """The embedded default, as `docker run -e PORT=...` starts it (Heroku's container stack sets PORT)."""
    port = 8000 + secrets.randbelow(900)
    with Container("full", images()["full"], publish=port, env={"PORT": str(port)}) as full:
        seconds = full.wait_healthy()
        print(f"\n[figure] full image, embedded default: healthy {seconds:.1f} s after `podman run`")
        podman("healthcheck", "run", full.name)  # the image's HEALTHCHECK follows PORT too
        with httpx.Client(base_url=full.base_url, timeout=30) as client:
            answers = [client.post("/api/predict", json={"image": d.data_url}).json()["answer"]["label"]
                       for d in drawings[:10]]
            assert sum(a == d.label for a, d in zip(answers, drawings[:10])) >= 9
            body = post_drawing(client, drawings[0])
            assert body["stored"] and body["trained"] and not body["queued"], body
            assert body["versions"]["fnn_online"] >= 1 and body["versions"]["cnn_online"] >= 1, body
            assert body["versions"]["fnn_original"] == body["versions"]["cnn_original"] == 0, body  # shipped
            assert client.get(f"/api/drawings/{body['id']}").json()["learned"]["cnn_online"] >= 1
        print(f"[figure] full image, embedded default: {full.rss_mb():.0f} MB resident after learning a drawing")


def test_full_image_retrains_the_originals_with_what_it_carries(drawings):
    """`python -m service.retrain` in the full image (compose's `retrain`, Heroku's `retrain` process): the
    laboratory, MNIST and the pendigits writers are inside, so over a store people drew into, it trains a
    challenger, judges it beside the shipped original and writes the run's record (exit status 0, the
    record's reason on stdout). Small on purpose: 500 base images, one epoch of the FNN."""
    volume = f"inkling-retrain-{suffix()}"
    podman("volume", "create", volume)
    try:
        limits = {"INKLING_DRAWINGS_BURST": "1000", "INKLING_DRAWINGS_PER_MINUTE": "60000"}
        with Container("drawn-into", images()["full"], publish=8000, env=limits,
                       options=("-v", f"{volume}:/data")) as full:
            full.wait_healthy()
            with httpx.Client(base_url=full.base_url, timeout=30) as client:
                for drawing in drawings:
                    post_drawing(client, drawing)
        quick = {"INKLING_RETRAIN_BASE_LIMIT": "500", "INKLING_PROMOTION_MIN_DRAWINGS": "10"}
        started = time.monotonic()
        done = subprocess.run([find_podman(), "run", "--rm", "--no-healthcheck", "-v", f"{volume}:/data",
                               *(f"--env={k}={v}" for k, v in quick.items()), images()["full"],
                               "python", "-m", "service.retrain", "--models", "fnn", "--epochs", "1"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]
        assert done.stdout.startswith(("FNN promoted: ", "FNN not promoted: ")), done.stdout
        assert "Traceback" not in done.stderr, done.stderr[-4000:]
        print(f"\n[figure] full image, retrain job (500 base images, 1 FNN epoch, {len(drawings)} drawings): "
              f"{time.monotonic() - started:.0f} s, {done.stdout.strip()}")
    finally:
        podman("volume", "rm", "-f", volume, check=False)


@pytest.fixture(scope="module")
def stack():
    """Redis, S3, the learner and two web containers on a network of their own."""
    with Network() as network:
        redis, s3 = redis_server(network).start(), s3_server(network).start()
        containers = [redis, s3]
        try:
            make_bucket(s3, "inkling")
            env = stack_env("inkling", **UNLIMITED)  # every test client is one address
            learner = Container("learner", images()["full"], network=network, env=env,
                                command=("python", "-m", "service.learner"), options=("--no-healthcheck",))
            webs = [Container(f"web{i}", images()["web"], network=network, env=env, publish=8000)
                    for i in (1, 2)]
            containers += [learner, *webs]
            learner.start()
            for web in webs:
                web.start()
            for web in webs:
                print(f"\n[figure] web image, scale-out: healthy {web.wait_healthy():.1f} s after `podman run`")
            print(f"[figure] full image, learner: learning {learner.wait_for_log('learning: versions'):.1f} s "
                  "after `podman run`")
            yield {"redis": redis, "s3": s3, "learner": learner, "webs": webs}
        finally:
            for container in containers:
                container.remove()


def s3_store(stack):
    from service.core.storage import S3Objects, WeightStore

    return WeightStore(S3Objects(s3_client(stack["s3"]), "inkling", "inkling"))


def test_stack_a_drawing_posted_to_one_web_container_is_learned_and_seen_by_the_other(stack, drawings):
    web1, web2 = stack["webs"]
    with httpx.Client(base_url=web1.base_url, timeout=30) as one, httpx.Client(base_url=web2.base_url,
                                                                               timeout=30) as two:
        body = post_drawing(one, drawings[1])
        assert body["trained"] and not body["queued"], body
        learned = body["learned"]["cnn_online"]
        deadline = time.monotonic() + 10
        while two.get("/healthz").json()["versions"]["cnn_online"] < learned and time.monotonic() < deadline:
            time.sleep(0.2)
        assert two.get("/healthz").json()["versions"]["cnn_online"] >= learned
        assert two.get(f"/api/drawings/{body['id']}").json()["learned"]["cnn_online"] == learned
    for role, container in (("web", web1), ("learner", stack["learner"]), ("redis", stack["redis"]),
                            ("s3", stack["s3"])):
        print(f"[figure] {role} container: {container.rss_mb():.0f} MB resident")


def test_stack_kill_and_restart_loses_nothing(stack, drawings):
    """The learner killed with drawings queued, a web container killed: both started again, every drawing
    sent is stored and learned exactly once."""
    web1, web2 = stack["webs"]
    learner = stack["learner"]
    with httpx.Client(base_url=web1.base_url, timeout=30) as one, httpx.Client(base_url=web2.base_url,
                                                                               timeout=30) as two:
        learner.kill()
        queued = [post_drawing(two, d, wait=False) for d in drawings[2:12]]
        assert all(b["queued"] for b in queued), queued
        learner.start_again()
        print(f"[figure] learner killed and started again: learning {learner.wait_for_log('learning: versions'):.1f} s later")

        web1.kill()
        assert not web1.running
        web1.start_again()
        print(f"[figure] web container killed and started again: healthy {web1.wait_healthy():.1f} s later")
        more = [post_drawing(one, d) for d in drawings[12:16]]

        ids = {b["id"] for b in [*queued, *more]}
        listed = {item["id"] for item in two.get("/api/drawings", params={"limit": 200}).json()["items"]}
        assert ids <= listed
    store = s3_store(stack)
    earlier = {d for r in store.history("cnn_online") for d in r.drawings} - ids
    assert_learned_exactly_once(store, ids | earlier, timeout=60)


def test_compose_up_gives_a_working_site_on_one_port(drawings):
    """`podman-compose up` of compose.yaml as it is, with the locally built images named through its
    variables: nginx on one port, two web containers, the learner, Redis and S3; the retrain job stays off."""
    compose = find_compose()
    if compose is None:
        pytest.fail("podman-compose not installed (scripts/install --dev)") if os.environ.get(
            "INKLING_REQUIRE_CONTAINERS") == "1" else pytest.skip("podman-compose not installed")
    port, project = free_port(), f"inkling-test-{secrets.token_hex(3)}"
    env = {**os.environ, **compose_images(), "INKLING_LISTEN": f"127.0.0.1:{port}"}
    run = lambda *args, timeout=300: subprocess.run(  # noqa: E731
        [compose, "-p", project, "-f", str(ROOT / "compose.yaml"), *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=timeout)
    started = time.monotonic()
    up = run("up", "-d")
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        base_url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, run("logs", timeout=60).stdout[-5000:]
            time.sleep(0.5)
        print(f"\n[figure] compose stack: healthy through the proxy {time.monotonic() - started:.1f} s after `up -d`")
        names = podman("ps", "--filter", f"label=io.podman.compose.project={project}", "--format",
                       "{{.Names}}").split()
        services = sorted(n.removeprefix(f"{project}_").rsplit("_", 1)[0] for n in names)
        assert services == ["learner", "proxy", "redis", "s3", "web", "web"], names
        with httpx.Client(base_url=base_url, timeout=60) as client:
            deadline = time.monotonic() + 120
            while (body := client.post("/api/drawings", json={"image": drawings[0].data_url,
                                                              "label": drawings[0].label}).json()).get("queued"):
                assert time.monotonic() < deadline, body  # the learner may still be loading TensorFlow
                time.sleep(1)
            assert body["trained"] and body["learned"]["cnn_online"] >= 1, body
            answer = client.post("/api/predict", json={"image": drawings[1].data_url}).json()["answer"]
            assert answer["label"] == drawings[1].label
            assert client.get("/").headers["content-security-policy"]  # the page, through nginx
    finally:
        down = run("down", "-v", timeout=180)
        assert down.returncode == 0, down.stderr[-2000:]


def test_soak_web_within_512_mb_and_learner_within_1_gb():
    """A short run of scripts/soak.py (INKLING_SOAK_SECONDS, 45 s by default; the README's figures are of
    600 s): 64 people drawing on a web container held to 512 MB with the README's WEB_CONCURRENCY=2, the learner
    held to 1 GB. No out-of-memory kill, no restart, every request answered, within 2 s at p99 (the
    README compares the 600 s run's p99 with its own figures; here the learner, S3 and the 64 people share
    the machine's 2 cores with the web container)."""
    from inkling_testkit.soak import run_soak

    result = run_soak(float(os.environ.get("INKLING_SOAK_SECONDS", "45")), 64, sample_every=2, say=print)
    kinds = result["kinds"]
    print(f"[figure] soak: {result['requests']} requests in {result['seconds']:.0f} s; "
          + "; ".join(f"{kind} p50 {k['p50_ms']} / p99 {k['p99_ms']} ms" for kind, k in kinds.items())
          + f"; peak resident web {result['peak_rss_mb']['web']:.0f} MB, learner "
          f"{result['peak_rss_mb']['learner']:.0f} MB; OOM kills {result['oom_kills']}")
    assert result["oom_kills"] == {"web": 0, "learner": 0} and result["restarts"] == {"web": 0, "learner": 0}
    assert result["peak_rss_mb"]["web"] < 512 and result["peak_rss_mb"]["learner"] < 1024
    for kind, k in kinds.items():
        assert set(k["statuses"]) == {"201" if kind == "drawing" else "200"}, (kind, k["statuses"])
        assert k["requests"] > 0
    assert kinds["predict"]["p99_ms"] <= 2000 and kinds["activations"]["p99_ms"] <= 2000
    assert result["versions_after"]["cnn_online"] > 0  # the learner kept learning
