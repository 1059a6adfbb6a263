"""The originals, versioned: a retrain run's challengers are promoted only through the gate or an audited
force, every worker follows the original served, the online twins rebase on it, rollbacks are audited.

The retrain job itself (training, the data it uses, resuming) is tested in ``tests/test_retrain.py``;
here its outcome is a promotion record written the way the job writes it, with challengers made by
moving the shipped weights a little.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED, Drawing
from lab.data import load_pendigits
from lab.render import render_pendigit
from models import load_original
from models.cnn_numpy import NumpyCNN
from service.app import create_app
from service.core.audit import AuditLog
from service.core.lineup import KINDS, original
from service.core.promotions import Promotion, PromotionError, PromotionStore, new_promotion_id
from service.core.settings import Settings
from service.core.storage import LocalObjects, S3Objects, WeightStore
from service.core.storage.ids import utc_iso

TOKEN = "promotions-admin-" + "a" * 16
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def challengers(seed: int) -> dict[str, bytes]:
    """An FNN and a CNN a little away from the shipped ones (so their answers differ measurably)."""
    rng = np.random.default_rng(seed)
    fnn = load_original("fnn", "digits")
    fnn.partial_fit(rng.random((32, 28, 28), dtype=np.float32), rng.integers(0, 10, 32))
    cnn = load_original("cnn", "digits", serving=True)
    moved = [w + rng.normal(0, 0.02 * (float(np.abs(w).mean()) or 1), w.shape).astype(np.float32)
             for w in cnn.get_weights()]
    return {"fnn": fnn.to_bytes(), "cnn": NumpyCNN(moved, cnn.config).to_bytes()}


def record_run(objects, *, promote: dict[str, bool], cutoff: str | None, champion: dict[str, int] | None = None,
               seed: int = 0) -> Promotion:
    """A run recorded as the retrain job records one: the challengers' weights first, then the record."""
    store, pid = PromotionStore(objects), new_promotion_id()
    models = {}
    for kind, data in challengers(seed).items():
        verdict = "promoted: crowd holdout 99.0% vs 97.0%" if promote[kind] else \
            "not promoted: crowd holdout 97.9% vs 97.6%, p = 0.21 (needs < 0.05)"
        models[kind] = {"promote": promote[kind], "reason": verdict, "sha256": store.put_challenger(pid, kind, data),
                        "figures": {"crowd": {"n": 300}, "holdout": {"name": "MNIST test"}}}
    record = Promotion(pid, utc_iso(), "digits", "judged", "; ".join(m["reason"] for m in models.values()), cutoff,
                       champion or {"fnn": 0, "cnn": 0}, {"command": "python -m service.retrain", "seed": seed},
                       models)
    store.put(record)
    return record


@pytest.fixture(scope="module")
def pen() -> list[tuple[str, int]]:
    return [(Drawing(render_pendigit(d), d.label).data_url, d.label) for d in load_pendigits("test")[:400:7]]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    store = tmp_path_factory.mktemp("promotions")
    settings = Settings(data_dir=store, drawings_burst=10_000, drawings_per_minute=60_000,
                        predictions_burst=100_000, predictions_per_minute=1e6, guard_tolerance=1.0,
                        reconcile_seconds=3600, quarantine_above=1.0, admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        (learner,) = client.app.state.companions
        learner.originals_every_s = 0.2
        yield client, store, learner


def predict(client, image: str, writer: str | None = None) -> dict:
    r = client.post("/api/predict", json={"image": image, "writer": writer})
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(check, timeout: float = 60.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := check()):
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def models_by_name(client) -> dict[str, dict]:
    return {m["name"]: m for m in client.get("/api/models").json()["models"]}


def test_a_refused_challenger_changes_nothing_served(service, pen):
    client, store, _ = service
    before = predict(client, pen[0][0])
    run = record_run(LocalObjects(store), promote={"fnn": False, "cnn": False}, cutoff=utc_iso())
    listed = client.get("/api/admin/promotions", headers=ADMIN).json()["items"]
    (shown,) = [p for p in listed if p["id"] == run.id]
    assert shown["models"]["cnn"]["promote"] is False and shown["models"]["cnn"]["promoted_as"] is None
    assert "p = 0.21 (needs < 0.05)" in shown["models"]["cnn"]["reason"] and shown["forced"] is None
    time.sleep(0.5)
    after = predict(client, pen[0][0])
    assert after["versions"] == before["versions"] and after["models"] == before["models"]
    assert WeightStore(LocalObjects(store)).current("cnn_original") is None
    assert {m["name"]: m["version"] for m in models_by_name(client).values()}["cnn_original"] == 0
    assert client.get("/api/admin/promotions").status_code == 401


def test_a_forced_promotion_is_served_audited_and_the_online_twins_rebase_on_it(service, pen):
    client, store, _ = service
    writer = "w" * 22
    saved = [client.post("/api/drawings", json={"image": image, "label": label, "writer": writer}).json()
             for image, label in pen[1:9]]
    time.sleep(0.01)
    cutoff = utc_iso()
    time.sleep(0.01)
    later = [client.post("/api/drawings", json={"image": image, "label": label, "writer": writer}).json()
             for image, label in pen[9:15]]
    assert all(s["trained"] for s in saved + later)
    probe = pen[20][0]
    before = predict(client, probe, writer)
    weights = WeightStore(LocalObjects(store))
    online_before = {k: weights.current(f"{k}_online").version for k in KINDS}

    run = record_run(LocalObjects(store), promote={"fnn": False, "cnn": False}, cutoff=cutoff, seed=1)
    r = client.post(f"/api/admin/promotions/{run.id}/force", headers=ADMIN,
                    json={"why": "the crowd's sevens", "models": ["cnn"]})
    assert r.status_code == 200, r.text
    assert r.json()["versions"] == {"cnn": 1} and r.json()["promotion"]["models"]["cnn"]["promoted_as"] == 1
    now = predict(client, probe, writer)  # this worker serves it at once
    assert now["versions"]["cnn_original"] == 1 and now["versions"]["fnn_original"] == 0
    promoted = NumpyCNN.from_bytes(PromotionStore(LocalObjects(store)).challenger(run, "cnn"))
    x = np.array(now["input28"], np.float32)
    expected = promoted.predict_proba(x[None])[0]
    top = np.argsort(-expected)[:3]
    assert [g["label"] for g in now["models"]["cnn_original"]] == top.tolist()
    assert [g["p"] for g in now["models"]["cnn_original"]] == pytest.approx(expected[top], abs=2e-4)
    # The writer's memory and the gate read the shipped CNN's features: same memory, same vote.
    assert now["answer"]["memory"] == before["answer"]["memory"] and now["gate"] == before["gate"]

    audit = client.get("/api/admin/audit/models", headers=ADMIN).json()["items"]
    assert audit[0]["action"] == "force" and audit[0]["by"] == "admin" and audit[0]["promotion"] == run.id
    assert audit[0]["why"] == "the crowd's sevens" and audit[0]["models"] == ["cnn"]
    shown = models_by_name(client)["cnn_original"]
    assert shown["version"] == 1 and shown["origin"]["promotion"] == run.id and shown["origin"]["forced"]
    assert shown["origin"]["by"] == "admin" and shown["origin"]["cutoff"] == cutoff

    # The online CNN rebases on it, stepping again through the drawings stored after the cut-off only.
    rebase = wait_for(lambda: (h := weights.current("cnn_online")).meta.get("reason") == "rebase" and h,
                      what="the online CNN's rebase")
    assert rebase.version == online_before["cnn"] + 1
    assert rebase.meta["base"] == 1 and rebase.meta["parent"] == online_before["cnn"]
    assert sorted(rebase.meta["replayed"]) == sorted(d["id"] for d in later)
    assert rebase.drawings == []  # each drawing stays in exactly one version's `drawings`
    assert weights.current("fnn_online").version == online_before["fnn"]  # its original did not move
    assert wait_for(lambda: models_by_name(client)["cnn_online"]["base"] == 1, what="the worker serving it")

    # Forcing again is the same decision: nothing more is published; another set of models is refused.
    again = client.post(f"/api/admin/promotions/{run.id}/force", headers=ADMIN,
                        json={"why": "the crowd's sevens", "models": ["cnn"]})
    assert again.status_code == 200 and again.json()["versions"] == {"cnn": 1}
    other = client.post(f"/api/admin/promotions/{run.id}/force", headers=ADMIN, json={"why": "and the FNN"})
    assert other.status_code == 409 and "already forced" in other.json()["detail"]

    # The drawings learned next go on top of the new base.
    nxt = client.post("/api/drawings", json={"image": pen[30][0], "label": pen[30][1]}).json()
    assert nxt["trained"]
    head = weights.current("cnn_online")
    assert head.meta["base"] == 1 and nxt["id"] in head.drawings


def test_an_online_version_learned_on_another_original_is_not_restored(service):
    client, store, _ = service
    weights = WeightStore(LocalObjects(store))
    on_shipped = next(v.version for v in weights.history("cnn_online") if v.meta.get("base", 0) == 0)
    r = client.post("/api/models/cnn_online/rollback", headers=ADMIN, json={"version": on_shipped})
    assert r.status_code == 409 and r.json()["code"] == "other_original"
    assert "roll cnn_original back to v0 first" in r.json()["detail"]


def test_rolling_an_original_back_is_audited_and_rebases_its_twin(service, pen):
    client, store, _ = service
    weights = WeightStore(LocalObjects(store))
    if weights.current("cnn_original") is None:
        pytest.skip("needs the forced promotion above")
    r = client.post("/api/models/cnn_original/rollback", headers=ADMIN, json={"version": 0, "why": "sevens got worse"})
    assert r.status_code == 200, r.text
    head = weights.current("cnn_original")
    assert head.meta["reason"] == "rollback" and head.meta["to"] == 0 and head.meta["by"] == "admin"
    assert head.meta.get("cutoff") is None  # the shipped weights learned from no crowd
    shipped = load_original("cnn", "digits", serving=True)
    x = np.array(predict(client, pen[3][0])["input28"], np.float32)
    now = predict(client, pen[3][0])
    assert now["versions"]["cnn_original"] == head.version
    assert now["models"]["cnn_original"][0]["label"] == int(shipped.predict_proba(x[None])[0].argmax())
    audit = client.get("/api/admin/audit/models", headers=ADMIN).json()["items"]
    assert audit[0]["action"] == "rollback" and audit[0]["model"] == "cnn_original" and audit[0]["to"] == 0
    assert audit[0]["why"] == "sevens got worse" and audit[0]["by"] == "admin"
    rebase = wait_for(lambda: (h := weights.current("cnn_online")).meta.get("base") == head.version and h,
                      what="the online CNN's rebase on the rolled-back original")
    assert rebase.meta["reason"] == "rebase"
    # Back on the shipped weights, the whole lineage's crowd is stepped through again.
    learned = {d for v in weights.history("cnn_online") for d in v.drawings if not d.startswith("r")}
    assert set(rebase.meta["replayed"]) == learned


def test_promoting_is_idempotent_and_refused_against_a_champion_no_longer_served(tmp_path):
    objects = LocalObjects(tmp_path)
    weights, promotions = WeightStore(objects), PromotionStore(objects)
    run = record_run(objects, promote={"fnn": True, "cnn": True}, cutoff=utc_iso())
    first = promotions.promote(weights, run, ["fnn", "cnn"], by="retrain")
    assert {k: v.version for k, v in first.items()} == {"fnn": 1, "cnn": 1}
    assert promotions.promote(weights, run, ["fnn", "cnn"], by="retrain") == first  # done: nothing published
    assert weights.current("cnn_original").version == 1
    stale = record_run(objects, promote={"fnn": True, "cnn": True}, cutoff=utc_iso(), seed=2)  # judged against v0
    with pytest.raises(PromotionError, match="not the version 0 this run was judged against"):
        promotions.promote(weights, stale, ["cnn"], by="retrain")
    with pytest.raises(PromotionError, match="has changed since"):
        promotions.force(weights, stale.id, by="ana", why="anyway", kinds=["cnn"])
    assert promotions.forced(stale.id) is None  # a force that could not happen leaves no decision behind
    assert weights.current("cnn_original").version == 1


def versioned_originals_survive_a_restart(settings: Settings, objects, pen) -> None:
    run = record_run(objects, promote={"fnn": True, "cnn": True}, cutoff=utc_iso())
    PromotionStore(objects).promote(WeightStore(objects), run, list(KINDS), by="retrain")
    for _ in range(2):  # a fresh start, then a restart: both serve version 1
        with TestClient(create_app(settings)) as client:
            body = predict(client, pen[0][0])
            assert body["versions"]["fnn_original"] == body["versions"]["cnn_original"] == 1
            shown = models_by_name(client)
            assert shown["cnn_original"]["origin"]["promotion"] == run.id
            assert shown["cnn_online"]["base"] == 1  # the embedded learner rebased it before serving it
            promoted = NumpyCNN.from_bytes(PromotionStore(objects).challenger(run, "cnn"))
            x = np.array(body["input28"], np.float32)
            assert body["models"]["cnn_original"][0]["label"] == int(promoted.predict_proba(x[None])[0].argmax())


def test_versioned_originals_survive_a_restart_on_the_local_store(tmp_path, pen):
    versioned_originals_survive_a_restart(Settings(data_dir=tmp_path), LocalObjects(tmp_path), pen)


@pytest.mark.s3
def test_versioned_originals_survive_a_restart_on_s3(seaweedfs, s3_bucket, pen, monkeypatch):
    for key, value in seaweedfs.env().items():
        monkeypatch.setenv(key, value)
    settings = Settings(storage="s3", s3_bucket=s3_bucket, s3_endpoint_url=seaweedfs.endpoint_url, s3_prefix="p",
                        allow_ephemeral=True)
    versioned_originals_survive_a_restart(settings, S3Objects(seaweedfs.client(), s3_bucket, "p"), pen)


def test_every_prediction_answers_throughout_a_promotion(tmp_path, pen):
    """Real HTTP: four clients predict without pause while a promotion is forced and both online twins rebase."""
    env = {**UNLIMITED, "INKLING_ADMIN_TOKEN": TOKEN, "INKLING_QUARANTINE_ABOVE": "1",
           "INKLING_GUARD_TOLERANCE": "1"}
    with LiveService(tmp_path, env) as svc:
        with httpx.Client(base_url=svc.base_url, timeout=30) as http:
            for image, label in pen[:6]:
                assert http.post("/api/drawings", json={"image": image, "label": label}).status_code == 201
            run = record_run(LocalObjects(tmp_path), promote={"fnn": False, "cnn": False},
                             cutoff=(datetime.now(timezone.utc) - timedelta(seconds=30)).isoformat(
                                 timespec="milliseconds").replace("+00:00", "Z"))
            stop, statuses, seen = threading.Event(), [], set()

            def keep_predicting(i: int) -> None:
                with httpx.Client(base_url=svc.base_url, timeout=30) as mine:
                    while not stop.is_set():
                        r = mine.post("/api/predict", json={"image": pen[i][0]})
                        statuses.append(r.status_code)
                        if r.status_code == 200:
                            seen.add(tuple(sorted(r.json()["versions"].items())))

            threads = [threading.Thread(target=keep_predicting, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            try:
                time.sleep(1)
                r = http.post(f"/api/admin/promotions/{run.id}/force", headers=ADMIN, json={"why": "test"})
                assert r.status_code == 200, r.text
                weights = WeightStore(LocalObjects(tmp_path))
                wait_for(lambda: all(weights.current(f"{k}_online").meta.get("base") == 1 for k in KINDS),
                         timeout=120, what="both rebases")
                wait_for(lambda: http.get("/healthz").json()["versions"]["cnn_online"]
                         == weights.current("cnn_online").version, what="the worker serving the rebase")
                time.sleep(1)
            finally:
                stop.set()
                for t in threads:
                    t.join()
        assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        originals = {dict(v)["cnn_original"] for v in seen}
        assert originals == {0, 1}  # predictions ran on both sides of the promotion
