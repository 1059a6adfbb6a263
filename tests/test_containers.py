"""The container images, run for real with podman: the `full` image alone, then the scale-out stack (two
`web` containers, the learner, Redis and S3) with containers killed and started again.

Marker ``container``; the images are built by ``scripts/container_images`` (CI runs it first). Skipped where
podman or the images are absent, unless INKLING_REQUIRE_CONTAINERS=1 (CI), where that fails instead.
The figures (time to healthy, resident memory per role) are printed as ``[figure]`` lines with ``-s``.
"""

from __future__ import annotations

import os
import secrets
import time

import httpx
import pytest

from inkling_testkit.containers import (Container, Network, find_podman, images, make_bucket, missing_images,
                                        redis_server, s3_server, stack_env)
from inkling_testkit.load_client import UNLIMITED, assert_learned_exactly_once, pendigit_drawings

pytestmark = pytest.mark.container


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
    from inkling_testkit.containers import podman

    return podman("run", "--rm", "--entrypoint", "python", image, "-c", code)


def test_web_image_has_no_tensorflow_and_full_has_it():
    probe = ("import importlib.util as u, os; print(os.getuid(), os.environ.get('INKLING_ROLE'), "
             "*(u.find_spec(m) is not None for m in ('tensorflow', 'skimage', 'numpy', 'fastapi')))")
    assert in_image(images()["web"], probe).split() == ["10001", "web", "False", "False", "True", "True"]
    assert in_image(images()["full"], probe).split() == ["10001", "None", "True", "True", "True", "True"]


def test_web_image_alone_refuses_to_start_without_a_queue():
    with Container("web-alone", images()["web"]) as web:
        assert podman_wait(web) != 0
        assert "INKLING_ROLE=web needs INKLING_QUEUE_URL" in web.logs()


def podman_wait(container: Container, timeout: float = 60) -> int:
    from inkling_testkit.containers import podman

    return int(podman("wait", container.name, timeout=timeout))


def test_full_image_alone_serves_on_port_and_learns(drawings):
    """The embedded default, as `docker run -e PORT=...` starts it (Heroku's container stack sets PORT)."""
    port = 8000 + secrets.randbelow(900)
    with Container("full", images()["full"], publish=port, env={"PORT": str(port)}) as full:
        seconds = full.wait_healthy()
        print(f"\n[figure] full image, embedded default: healthy {seconds:.1f} s after `podman run`")
        from inkling_testkit.containers import podman

        podman("healthcheck", "run", full.name)  # the image's HEALTHCHECK follows PORT too
        with httpx.Client(base_url=full.base_url, timeout=30) as client:
            answers = [client.post("/api/predict", json={"image": d.data_url}).json()["answer"]["label"]
                       for d in drawings[:10]]
            assert sum(a == d.label for a, d in zip(answers, drawings[:10])) >= 9
            body = post_drawing(client, drawings[0])
            assert body["stored"] and body["trained"] and not body["queued"], body
            assert all(v >= 1 for v in body["versions"].values()), body
            assert client.get(f"/api/drawings/{body['id']}").json()["learned"]["cnn_online"] >= 1
        print(f"[figure] full image, embedded default: {full.rss_mb():.0f} MB resident after learning a drawing")


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
    from inkling_testkit.containers import S3_KEYS

    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=stack["s3"].base_url, region_name="us-east-1",
                          aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
                          config=Config(s3={"addressing_style": "path"}))
    return WeightStore(S3Objects(client, "inkling", "inkling"))


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
