"""The HTTP API against the real app (in-process), on a temporary local store."""

import base64
import io
import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from lab.data import load_pendigits
from lab.render import render_pendigit
from service.app import create_app
from service.core.settings import Settings
from service.core.storage import LocalObjects, WeightStore

MODELS = ["fnn_original", "fnn_online", "cnn_original", "cnn_online"]
TOKEN = "test-admin-token"


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def pen():
    """A few pendigits test drawings as (data URL, label)."""
    digits = load_pendigits("test")
    return [(data_url(render_pendigit(d)), d.label) for d in digits[:40:4]]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("store"), admin_token=TOKEN, drawings_burst=1000,
                        drawings_per_minute=6000, guard_every=1000)
    with TestClient(create_app(settings)) as client:
        yield client


def blank_png(color=255) -> str:
    out = io.BytesIO()
    Image.new("L", (280, 280), color).save(out, format="PNG")
    return data_url(out.getvalue())


def test_predict_shape(client, pen):
    image, label = pen[0]
    r = client.post("/api/predict", json={"image": image})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["models"]) == sorted(MODELS)
    for name, top in body["models"].items():
        assert len(top) == 3 and [t["p"] for t in top] == sorted((t["p"] for t in top), reverse=True)
        assert len({t["digit"] for t in top}) == 3
    assert body["answer"]["digit"] == label and body["answer"]["agree"] >= 3
    assert np.array(body["input28"]).shape == (28, 28)
    assert body["versions"] == {"fnn_original": 0, "fnn_online": body["versions"]["fnn_online"],
                                "cnn_original": 0, "cnn_online": body["versions"]["cnn_online"]}


def test_predict_accepts_plain_base64(client, pen):
    plain = pen[1][0].split(",", 1)[1]
    assert client.post("/api/predict", json={"image": plain}).status_code == 200


@pytest.mark.parametrize("payload,status,code", [
    ({"image": blank_png()}, 422, "blank_drawing"),
    ({"image": blank_png(0)}, 422, "blank_drawing"),
    ({"image": "data:image/png;base64,!!!!"}, 422, "invalid_image"),
    ({"image": base64.b64encode(b"GIF89a not a png").decode()}, 422, "invalid_image"),
    ({"image": ""}, 422, "invalid_request"),
    ({}, 422, "invalid_request"),
    ({"image": 42}, 422, "invalid_request"),
])
def test_predict_bad_input(client, payload, status, code):
    r = client.post("/api/predict", json=payload)
    assert r.status_code == status and r.json()["code"] == code
    assert len(r.json()["detail"]) > 10


def test_blank_message_is_for_people(client):
    assert "Nothing drawn" in client.post("/api/predict", json={"image": blank_png()}).json()["detail"]


def test_not_json(client):
    r = client.post("/api/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_json"


def test_body_too_large(client):
    r = client.post("/api/predict", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"


def test_image_too_large(client):
    out = io.BytesIO()
    Image.new("L", (2049, 8), 255).save(out, format="PNG")
    r = client.post("/api/predict", json={"image": data_url(out.getvalue())})
    assert r.status_code == 422 and "2048" in r.json()["detail"]


def test_drawing_is_stored_then_learned(client, pen):
    image, label = pen[2]
    before = client.get("/api/models").json()
    r = client.post("/api/drawings", json={"image": image, "label": label})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stored"] and body["trained"]
    old = {m["name"]: m["version"] for m in before["models"]}
    assert body["versions"] == {**old, "fnn_online": old["fnn_online"] + 1, "cnn_online": old["cnn_online"] + 1}
    assert body["after"]["versions"] == body["versions"]
    png = client.get(f"/api/drawings/{body['id']}.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    sent = Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1]))).convert("L")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.content))), np.asarray(sent))  # stored gray
    listed = client.get("/api/drawings", params={"label": label}).json()["items"]
    assert listed[0]["id"] == body["id"] and listed[0]["label"] == label and listed[0]["train"] is True


def test_a_backlog_answers_at_once_with_the_position_and_learns_later(tmp_path, pen):
    settings = Settings(data_dir=tmp_path, max_backlog=1, wait_seconds=0.2, drawings_burst=100)
    with TestClient(create_app(settings)) as client:
        (learner,) = client.app.state.companions  # the embedded default's learner
        learner.stop(wait_s=10)  # the learner falls behind...
        bodies = [client.post("/api/drawings", json={"image": image, "label": label}).json()
                  for image, label in pen[:3]]
        assert [b["queue_position"] for b in bodies] == [1, 2, 3]
        assert all(b["queued"] and not b["trained"] and b["learned"] is None for b in bodies)
        assert all(client.get(f"/api/drawings/{b['id']}").json()["learned"] == {"fnn_online": None,
                                                                                "cnn_online": None} for b in bodies)
        deadline = time.monotonic() + 10  # the queue's gauges are read every 5 s, never during a scrape
        while "inkling_queue_depth 3.0" not in client.get("/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        learner.start_thread()  # ...and catches up: every queued drawing is learned, once
        deadline = time.monotonic() + 30
        while None in client.get(f"/api/drawings/{bodies[-1]['id']}").json()["learned"].values():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        versions = [client.get(f"/api/drawings/{b['id']}").json()["learned"]["cnn_online"] for b in bodies]
        assert versions == [1, 1, 1]  # one batch, one version
        assert client.get("/api/stats").json()["online"]["cnn_online"]["steps"] == 3


def test_consent_off_stores_without_training(client, pen):
    image, label = pen[3]
    versions = client.post("/api/predict", json={"image": image}).json()["versions"]
    r = client.post("/api/drawings", json={"image": image, "label": label, "train": False})
    assert r.status_code == 201
    assert r.json()["trained"] is False and r.json()["versions"] == versions
    # Stored, but private: listed and served to the admin only.
    assert r.json()["id"] not in {item["id"] for item in client.get("/api/drawings").json()["items"]}
    mine = client.get("/api/drawings", params={"limit": 1}, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert mine["items"][0]["id"] == r.json()["id"] and mine["items"][0]["train"] is False


@pytest.mark.parametrize("label", ["3", 3.5, -1, 10, True, None, "٣", [3]])
def test_bad_labels(client, pen, label):
    r = client.post("/api/drawings", json={"image": pen[0][0], "label": label})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert "label" in r.json()["detail"]


@pytest.mark.parametrize("drawing_id", ["nope", "..%2F..%2Fetc%2Fpasswd", "20261127T150405123Z-0000000000"])
def test_unknown_drawing(client, drawing_id):
    r = client.get(f"/api/drawings/{drawing_id}.png")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_paging(client, pen):
    """Pages come full and newest first, and skip the drawings sent without consent (however many)."""
    sent = {}
    for i, (image, label) in enumerate(pen[4:10]):
        r = client.post("/api/drawings", json={"image": image, "label": label, "train": i % 3 == 0})
        sent[r.json()["id"]] = i % 3 == 0
    seen, cursor, sizes = [], None, []
    while True:
        page = client.get("/api/drawings", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3
    assert seen == sorted(seen, reverse=True)  # newest first
    assert all(size == 2 for size in sizes[:-1])
    assert {i for i, consented in sent.items() if consented} <= set(seen)
    assert not {i for i, consented in sent.items() if not consented} & set(seen)
    assert client.get("/api/drawings", params={"limit": 0}).status_code == 422


def test_stats(client, pen):
    before = client.get("/api/stats").json()
    image, label = pen[9]
    assert client.post("/api/drawings", json={"image": image, "label": label}).status_code == 201
    stats = client.get("/api/stats").json()  # this worker's own write shows at once, despite the cache
    assert len(stats["counts"]) == 10 and stats["total"] == sum(stats["counts"]) == before["total"] + 1
    assert stats["counts"][label] == before["counts"][label] + 1
    assert stats["online"]["cnn_online"]["steps"] == before["online"]["cnn_online"]["steps"] + 1
    assert 0.9 < stats["online"]["cnn_online"]["original_accuracy"] <= 1


def test_activations(client, pen):
    r = client.post("/api/activations", json={"image": pen[0][0]})
    assert r.status_code == 200
    layers = {layer["name"]: layer for layer in r.json()["layers"]}
    assert {n: l["shape"] for n, l in layers.items()} == {
        "conv1": [32, 28, 28], "pool1": [32, 14, 14], "conv2": [64, 14, 14], "pool2": [64, 7, 7]}
    for layer in layers.values():
        data = np.frombuffer(base64.b64decode(layer["data"]), np.uint8)
        assert data.size == np.prod(layer["shape"]) and data.max() == 255


def test_activations_are_the_keras_models_feature_maps(client, pen):
    """The page's feature maps come from the numpy CNN; they are the Keras CNN's, to 1e-5 before 8-bit scaling."""
    from models.cnn import CNN
    from models.preprocess import BOX, preprocess_drawing

    served = client.app.state.runtime.online["cnn_online"].serving
    keras = CNN.from_bytes(served.to_bytes()).activations(preprocess_drawing(pen[1][0], BOX)[None])
    for layer in client.post("/api/activations", json={"image": pen[1][0]}).json()["layers"]:
        expected = np.moveaxis(keras[layer["name"]][0], -1, 0)
        assert layer["max"] == pytest.approx(expected.max(), abs=5e-5 + 1e-5)  # sent to 4 decimals
        levels = np.frombuffer(base64.b64decode(layer["data"]), np.uint8).reshape(layer["shape"])
        # Each level is a correct rounding of the Keras value, give or take 1e-5 of it.
        slack = 0.5 + 255 * 1e-5 / expected.max() + 1e-3
        assert np.abs(levels - expected / expected.max() * 255).max() <= slack, layer["name"]


def test_rollback_needs_the_token(client):
    assert client.post("/api/models/cnn_online/rollback", json={"version": 0}).status_code == 401
    r = client.post("/api/models/cnn_online/rollback", json={"version": 0}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


def test_rollback_restores_weights_as_a_new_version(client, pen):
    image, _ = pen[0]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = client.post("/api/predict", json={"image": image}).json()
    r = client.post("/api/models/cnn_online/rollback", json={"version": 0}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == before["versions"]["cnn_online"] + 1
    after = client.post("/api/predict", json={"image": image}).json()
    assert after["models"]["cnn_online"] == after["models"]["cnn_original"]
    assert client.post("/api/models/cnn_online/rollback", json={"version": 999}, headers=auth).status_code == 404
    assert client.post("/api/models/nope/rollback", json={"version": 0}, headers=auth).status_code == 404
    assert "inkling_rollbacks_total" in client.get("/metrics").text


def test_health_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert 'inkling_requests_total{method="POST",route="/api/predict",status="200"}' in text
    assert "inkling_learn_steps_total" in text


def test_config_is_the_renderer_canvas(client):
    from models import CANVAS

    assert client.get("/api/config").json()["canvas"] == CANVAS.as_dict()


def test_errors_are_json_everywhere(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    r = client.put("/api/predict", json={})
    assert r.status_code == 405 and "detail" in r.json()


def test_rate_limit(tmp_path, pen):
    settings = Settings(data_dir=tmp_path, drawings_burst=2, drawings_per_minute=1)
    with TestClient(create_app(settings)) as limited:
        image, label = pen[0]
        for _ in range(2):
            assert limited.post("/api/drawings", json={"image": image, "label": label, "train": False}).status_code == 201
        r = limited.post("/api/drawings", json={"image": image, "label": label})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "wait" in r.json()["detail"]
        assert limited.post("/api/predict", json={"image": image}).status_code == 200  # predictions are not limited


def test_restart_resumes_versions(tmp_path, pen):
    image, label = pen[5]
    settings = Settings(data_dir=tmp_path)
    with TestClient(create_app(settings)) as first:
        versions = first.post("/api/drawings", json={"image": image, "label": label}).json()["versions"]
        answer = first.post("/api/predict", json={"image": image}).json()
    with TestClient(create_app(settings)) as second:
        again = second.post("/api/predict", json={"image": image}).json()
    assert again["versions"] == versions == {"fnn_original": 0, "fnn_online": 1, "cnn_original": 0, "cnn_online": 1}
    assert again["models"] == answer["models"]
    stored = json.loads(next((tmp_path / "drawings").glob("*.json")).read_text())
    assert stored["label"] == label and "client" in stored and "127.0.0.1" not in json.dumps(stored)


def test_old_weight_versions_are_pruned(tmp_path, pen):
    settings = Settings(data_dir=tmp_path, keep_versions=2, guard_every=3, guard_min_seconds=0, drawings_burst=100,
                        prune_every=5,
                        prune_grace_seconds=0)
    with TestClient(create_app(settings)) as client:
        for image, label in pen[:10]:  # one at a time: one version each
            assert client.post("/api/drawings", json={"image": image, "label": label}).status_code == 201
        stats = client.get("/api/stats").json()
    store = WeightStore(LocalObjects(tmp_path))
    for name in ("fnn_online", "cnn_online"):
        history = store.history(name)
        assert [r.version for r in history] == list(range(1, 11))  # records are never pruned: the ledger
        checked = {h["version"] for h in stats["online"][name]["history"]}
        assert checked == {3, 6, 9}
        stored = {p.stem for p in (tmp_path / "weights" / name / "objects").glob("*.npz")}
        kept = {r.version for r in history if r.sha256 in stored}
        assert kept == {3, 6, 9, 10}  # the newest 2 (pruned at 10) and every good rollback target
