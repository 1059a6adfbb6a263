"""The service over real HTTP (uvicorn in a subprocess): the embedded default, and scale-out with
web workers, one learner, a real Redis queue and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from inkling_testkit.live_service import LiveLearner, LiveService
from inkling_testkit.load_client import EVERY_DRAWING_LEARNED, UNLIMITED, assert_learned_exactly_once
from lab.data import load_pendigits
from lab.render import render_pendigit
from service.core.storage import LocalObjects, S3Objects, WeightStore

MODELS = ("fnn_online", "cnn_online")


@pytest.fixture(scope="module")
def drawings():
    digits = load_pendigits("test")[:60]
    return [("data:image/png;base64," + base64.b64encode(render_pendigit(d)).decode(), d.label) for d in digits]


def post_all(base_url: str, items, workers: int, **extra) -> list[httpx.Response]:
    with httpx.Client(base_url=base_url, timeout=120) as client, ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda item: client.post("/api/drawings",
                                                      json={"image": item[0], "label": item[1], **extra}), items))


def online_of(versions: dict) -> dict:
    """The online models' versions; the originals serve the shipped version 0 until a promotion."""
    assert {m: v for m, v in versions.items() if m not in MODELS} == {"fnn_original": 0, "cnn_original": 0}
    return {m: versions[m] for m in MODELS}


def learned_everywhere(base_url: str, ids, timeout: float = 30.0) -> dict[str, dict]:
    """``GET /api/drawings/{id}`` for each id, once every model's ``learned`` version is set."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while True:
            infos = {i: client.get(f"/api/drawings/{i}").json() for i in ids}
            if all(None not in info["learned"].values() for info in infos.values()) or time.monotonic() > deadline:
                return infos
            time.sleep(0.25)


def test_fifty_concurrent_drawings_fifty_steps_fewer_versions(tmp_path, drawings):
    with LiveService(tmp_path, {**UNLIMITED, **EVERY_DRAWING_LEARNED}) as service:
        responses = post_all(service.base_url, drawings[:50], workers=50)
        assert [r.status_code for r in responses] == [201] * 50
        ids = {r.json()["id"] for r in responses}
        listed = httpx.get(f"{service.base_url}/api/drawings", params={"limit": 200}).json()["items"]
        assert {item["id"] for item in listed} == ids
        infos = learned_everywhere(service.base_url, ids)
        for r in responses:  # the answer named the version that learned it, or said it was still queued
            body = r.json()
            assert body["trained"] == (body["learned"] is not None) != body["queued"]
            if body["trained"]:
                assert infos[body["id"]]["learned"] == body["learned"]
                assert body["after"]["versions"] == body["versions"]
        metrics = httpx.get(f"{service.base_url}/metrics").text
        assert 'inkling_learn_steps_total{model="cnn_online"} 50.0' in metrics
        store = WeightStore(LocalObjects(tmp_path))
        assert_learned_exactly_once(store, ids)
        assert store.current("cnn_online").version < 50  # group commit: drawings shared versions


def test_wait_false_answers_at_once_and_learns_all_the_same(tmp_path, drawings):
    with LiveService(tmp_path, {**UNLIMITED, **EVERY_DRAWING_LEARNED}) as service:
        responses = post_all(service.base_url, drawings[:6], workers=1, wait=False)
        assert all(r.status_code == 201 and r.json()["queued"] and not r.json()["trained"] for r in responses)
        assert all(r.json()["after"] is None for r in responses)
        infos = learned_everywhere(service.base_url, [r.json()["id"] for r in responses])
        assert all(None not in info["learned"].values() for info in infos.values())


def s3_env(seaweedfs, bucket: str) -> dict:
    return {**UNLIMITED, **EVERY_DRAWING_LEARNED, **seaweedfs.env(), "INKLING_STORAGE": "s3",
            "INKLING_S3_BUCKET": bucket,
            "INKLING_S3_ENDPOINT_URL": seaweedfs.endpoint_url, "INKLING_S3_PREFIX": "t",
            "INKLING_REFRESH_SECONDS": "0.5", "INKLING_S3_TIMEOUT_S": "2"}


@pytest.mark.s3
@pytest.mark.redis
def test_two_web_workers_one_learner_learn_each_drawing_once(tmp_path, seaweedfs, s3_bucket, queue_env, drawings):
    env = {**s3_env(seaweedfs, s3_bucket), **queue_env}
    web = {**env, "INKLING_ROLE": "web"}
    with LiveLearner(tmp_path / "learner", env), LiveService(tmp_path / "a", web) as a, \
            LiveService(tmp_path / "b", web) as b:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda args: post_all(*args, workers=4),
                                    [(a.base_url, drawings[:20]), (b.base_url, drawings[20:40])]))
        assert all(r.status_code == 201 for rs in results for r in rs)
        ids = {r.json()["id"] for rs in results for r in rs}
        store = WeightStore(S3Objects(seaweedfs.client(), s3_bucket, "t"))
        infos = learned_everywhere(a.base_url, ids)
        assert all(None not in info["learned"].values() for info in infos.values())
        assert_learned_exactly_once(store, ids)
        head = {m: store.current(m).version for m in MODELS}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # both workers serve the newest version without a restart
            seen = [online_of(httpx.get(f"{s.base_url}/healthz").json()["versions"]) for s in (a, b)]
            if seen == [head] * 2:
                break
            time.sleep(0.1)
        assert seen == [head] * 2
        assert httpx.get(f"{a.base_url}/api/stats").json()["total"] == 40
        assert 'inkling_model_steps{model="cnn_online"} 40.0' in httpx.get(f"{a.base_url}/metrics").text
        b.restart()  # a restarted worker resumes from the stored versions
        assert online_of(httpx.get(f"{b.base_url}/healthz").json()["versions"]) == head


def test_a_web_worker_without_a_queue_refuses_to_start(tmp_path):
    service = LiveService(tmp_path, {"INKLING_ROLE": "web"}, start_timeout=60)
    with pytest.raises(Exception) as info:
        service.start()
    assert "INKLING_QUEUE_URL" in str(info.value)


@pytest.mark.s3
def test_s3_outage_keeps_predictions_and_refuses_drawings_cleanly(tmp_path, seaweedfs, s3_bucket, drawings):
    env = s3_env(seaweedfs, s3_bucket)
    image, label = drawings[0]
    with LiveService(tmp_path, env) as service, httpx.Client(base_url=service.base_url, timeout=60) as client:
        assert client.post("/api/drawings", json={"image": image, "label": label}).status_code == 201
        seaweedfs.stop()
        try:
            assert client.post("/api/predict", json={"image": image}).status_code == 200
            started = time.monotonic()
            r = client.post("/api/drawings", json={"image": image, "label": label})
            assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
            assert "not saved" in r.json()["detail"]
            assert time.monotonic() - started < 20
            assert client.post("/api/predict", json={"image": image}).status_code == 200
        finally:
            seaweedfs.start()
        deadline = time.monotonic() + 30
        while (r := client.post("/api/drawings", json={"image": image, "label": label})).status_code != 201:
            assert r.status_code == 503 and time.monotonic() < deadline
            time.sleep(1)
        assert r.json()["trained"] and r.json()["learned"] == {"fnn_online": 2, "cnn_online": 2}
        assert client.get("/api/stats").json()["total"] == 2  # nothing half-written from the outage
