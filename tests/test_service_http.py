"""The service over real HTTP (uvicorn in a subprocess): concurrency, restarts, shared S3, S3 outages."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from models.data import load_pendigits
from models.render import render_pendigit
from service.storage import S3WeightStore
from tests.live_service import LiveService

UNLIMITED = {"INKLING_DRAWINGS_BURST": "100000", "INKLING_DRAWINGS_PER_MINUTE": "100000"}


@pytest.fixture(scope="module")
def drawings():
    digits = load_pendigits("test")[:60]
    return [("data:image/png;base64," + base64.b64encode(render_pendigit(d)).decode(), d.label) for d in digits]


def post_all(base_url: str, items, workers: int) -> list[httpx.Response]:
    with httpx.Client(base_url=base_url, timeout=120) as client, ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda item: client.post("/api/drawings", json={"image": item[0], "label": item[1]}),
                             items))


def test_fifty_concurrent_drawings_fifty_steps(tmp_path, drawings):
    with LiveService(tmp_path, UNLIMITED) as service:
        responses = post_all(service.base_url, drawings[:50], workers=50)
        assert [r.status_code for r in responses] == [201] * 50
        ids = {r.json()["id"] for r in responses}
        listed = httpx.get(f"{service.base_url}/api/drawings", params={"limit": 200}).json()["items"]
        assert {item["id"] for item in listed} == ids
        versions = httpx.get(f"{service.base_url}/healthz").json()["versions"]
        assert versions == {"fnn_online": 50, "cnn_online": 50}
        metrics = httpx.get(f"{service.base_url}/metrics").text
        assert 'inkling_learn_steps_total{model="cnn_online"} 50.0' in metrics
        # Every response reported a distinct version: each drawing got its own step.
        assert sorted(r.json()["versions"]["cnn_online"] for r in responses) == list(range(1, 51))


def s3_env(seaweedfs, bucket: str) -> dict:
    return {**UNLIMITED, **seaweedfs.env(), "INKLING_STORAGE": "s3", "INKLING_S3_BUCKET": bucket,
            "INKLING_S3_ENDPOINT_URL": seaweedfs.endpoint_url, "INKLING_S3_PREFIX": "t",
            "INKLING_REFRESH_SECONDS": "0.5", "INKLING_S3_TIMEOUT_S": "2"}


@pytest.mark.s3
def test_two_instances_on_one_bucket_lose_no_update(tmp_path, seaweedfs, s3_bucket, drawings):
    env = s3_env(seaweedfs, s3_bucket)
    with LiveService(tmp_path / "a", env) as a, LiveService(tmp_path / "b", env) as b:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda args: post_all(*args, workers=4),
                                    [(a.base_url, drawings[:20]), (b.base_url, drawings[20:40])]))
        assert all(r.status_code == 201 for rs in results for r in rs)
        store = S3WeightStore(seaweedfs.client(), s3_bucket, "t")
        for model in ("fnn_online", "cnn_online"):
            assert [p.version for p in store.history(model)] == list(range(1, 41))  # no gaps, no duplicates
            assert [p.meta["steps"] for p in store.history(model)] == list(range(1, 41))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # each worker picks up the other's versions without a restart
            seen = [httpx.get(f"{s.base_url}/healthz").json()["versions"] for s in (a, b)]
            if seen == [{"fnn_online": 40, "cnn_online": 40}] * 2:
                break
            time.sleep(0.25)
        assert seen == [{"fnn_online": 40, "cnn_online": 40}] * 2
        assert httpx.get(f"{a.base_url}/api/stats").json()["total"] == 40

        # A restarted instance resumes from the stored versions.
        b.restart()
        assert httpx.get(f"{b.base_url}/healthz").json()["versions"] == {"fnn_online": 40, "cnn_online": 40}


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
        assert r.json()["trained"] and r.json()["versions"]["cnn_online"] == 2
        assert client.get("/api/stats").json()["total"] == 2  # nothing half-written from the outage
