"""Curating the crowd: every label scored when stored, suspicious ones held out of everything, a reviewer's
decisions reaching the models exactly once, strokes kept.

The real app in-process (it serves and learns, as the embedded default does) on a local store. What
quarantine holds a drawing out of is checked where it lives: the published versions' ledger (learning),
the learner's replay buffer, the writer's memory (GET /api/me), the public gallery and the export.
"""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
import time
from pathlib import Path

import cleanlab.rank
import numpy as np
import pytest
from fastapi.testclient import TestClient

from inkling_testkit.load_client import Drawing
from lab.data import load_pendigits
from lab.render import render_pendigit
from models.suspicion import TrackRecord, suspicion
from service.app import create_app
from service.core.settings import Settings
from service.core.storage import LocalDrawingStore, LocalObjects, WeightStore

ROOT = Path(__file__).resolve().parent.parent
TOKENS = {"ana": "ana-" + "a" * 20, "bo": "bo-" + "b" * 20}
ANA = {"Authorization": f"Bearer {TOKENS['ana']}"}
BO = {"Authorization": f"Bearer {TOKENS['bo']}"}


def new_writer() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def pen() -> dict[int, list[str]]:
    """Pen-drawn test digits as data URLs, by digit (writers no model trained on)."""
    by_digit: dict[int, list[str]] = {}
    for d in load_pendigits("test")[::3]:
        by_digit.setdefault(d.label, []).append(Drawing(render_pendigit(d), d.label).data_url)
    return by_digit


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("curation")


@pytest.fixture(scope="module")
def client(store):
    settings = Settings(data_dir=store, drawings_burst=10_000, drawings_per_minute=60_000, predictions_burst=100_000,
                        predictions_per_minute=1e6, guard_tolerance=1.0, reconcile_seconds=3600,
                        admin_tokens=",".join(f"{name}:{token}" for name, token in TOKENS.items()))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def learner(client):
    (learner,) = client.app.state.companions
    return learner


def save(client, image: str, label: int, writer: str | None = None, **extra) -> dict:
    r = client.post("/api/drawings", json={"image": image, "label": label, "writer": writer, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def info(client, drawing_id: str, **headers) -> dict:
    r = client.get(f"/api/drawings/{drawing_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def ledger(store: Path, model: str = "cnn_online") -> list[str]:
    """Every lesson the published versions of ``model`` took a step for, in order."""
    return [d for r in WeightStore(LocalObjects(store)).history(model) for d in r.drawings]


def applied(store: Path, model: str = "cnn_online") -> list[str]:
    return [d for r in WeightStore(LocalObjects(store)).history(model) for d in r.applied]


def settle(client, learner, timeout: float = 30) -> None:
    """Until the learner has drained its queue and every worker serves what it published."""
    deadline = time.monotonic() + timeout
    while learner.queue.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    client.app.state.runtime.follower.refresh()


def review(client, drawing_id: str, action: str, label: int | None = None, headers=ANA) -> dict:
    r = client.post(f"/api/admin/review/{drawing_id}", json={"action": action, "label": label}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def memory_counts(client, writer: str) -> list[int]:
    return client.get("/api/me", headers={"Inkling-Writer": writer}).json()["counts"]


# --- scoring --------------------------------------------------------------------------------------


def test_the_label_quality_is_cleanlabs_self_confidence():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=50)
    labels = rng.integers(0, 10, 50)
    ours = [suspicion(p, int(y)).quality for p, y in zip(probs, labels)]
    theirs = cleanlab.rank.get_label_quality_scores(labels, probs, method="self_confidence")
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_a_writers_record_moves_a_labels_odds():
    probs = np.array([0.2, 0.7, 0.1])
    fresh = suspicion(probs, 1).score
    assert suspicion(probs, 1, record=TrackRecord(labelled=40, flagged=35)).score > 0.5 > fresh
    assert suspicion(probs, 1, record=TrackRecord(labelled=40, flagged=0, confirmed=10)).score < fresh
    assert math.isclose(suspicion(probs, 1, record=TrackRecord()).score, 1 - 0.7, abs_tol=1e-3)


def test_every_labelled_drawing_is_scored_when_it_is_stored(client, pen, store):
    honest = save(client, pen[3][0], 3)
    wrong = save(client, pen[1][0], 8)
    assert honest["trained"] and wrong["stored"] and not wrong["trained"]
    assert wrong["detail"] == "Thanks, saved." and not wrong["queued"]  # nothing accusing
    ok, held = info(client, honest["id"]), info(client, wrong["id"])
    assert ok["status"] == "pending" and ok["suspicion"] < 0.5
    assert held["status"] == "quarantined" and held["suspicion"] > 0.9
    record = LocalDrawingStore(store).get(wrong["id"])
    assert set(record.probs) == {"fnn_original", "fnn_online", "cnn_original", "cnn_online"}
    assert all(abs(sum(p) - 1) < 1e-3 and len(p) == 10 for p in record.probs.values())
    assert "models_disagree" in record.reasons


# --- quarantine -----------------------------------------------------------------------------------


def test_a_quarantined_drawing_is_held_out_of_everything(client, learner, pen, store, tmp_path):
    writer = new_writer()
    held = save(client, pen[0][1], 6, writer)  # a 0 called a 6
    settle(client, learner)
    assert info(client, held["id"])["status"] == "quarantined"
    assert held["id"] not in ledger(store) + applied(store)  # not learned
    assert held["id"] not in learner.replay  # not replayed
    assert memory_counts(client, writer)[6] == 0  # not in its writer's memory
    gallery = client.get("/api/drawings", params={"limit": 200}).json()["items"]
    assert held["id"] not in {d["id"] for d in gallery}  # not shown
    assert client.get(f"/api/drawings/{held['id']}.png").status_code == 404
    assert client.get(f"/api/drawings/{held['id']}.png", headers=ANA).status_code == 200  # the reviewer sees it
    exported = export(store, tmp_path)
    assert held["id"] not in {line["key_id"] for line in exported}  # not exported
    assert learner.reconcile() == 0  # and reconciliation leaves it alone


def export(store: Path, out: Path) -> list[dict]:
    done = subprocess.run([sys.executable, "scripts/export_dataset", str(out), "--format", "ndjson"], cwd=ROOT,
                          env={"INKLING_DATA_DIR": str(store), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in (out / "drawings.ndjson").read_text().splitlines()]


# --- reviews --------------------------------------------------------------------------------------


def test_accepting_a_quarantined_drawing_teaches_it_once_and_its_writers_memory(client, learner, pen, store):
    writer = new_writer()
    held = save(client, pen[7][2], 1, writer)  # their 7 looks like a 1 to nobody: held
    assert info(client, held["id"])["status"] == "quarantined"
    done = review(client, held["id"], "accept")
    assert done["drawing"]["status"] == "accepted" and done["review"]["learn"] == 1 and done["review"]["by"] == "ana"
    settle(client, learner)
    assert ledger(store).count(done["review"]["id"]) == 1 and held["id"] not in ledger(store)
    assert held["id"] in learner.replay
    assert memory_counts(client, writer)[1] == 1  # now it is theirs
    learner.reconcile()
    settle(client, learner)
    assert ledger(store).count(done["review"]["id"]) == 1  # reconciliation does not teach it twice


def test_relabelling_a_learned_drawing_takes_exactly_one_corrective_step(client, learner, pen, store):
    writer = new_writer()
    stored = save(client, pen[4][0], 4, writer)
    settle(client, learner)
    assert ledger(store).count(stored["id"]) == 1 and memory_counts(client, writer)[4] == 1
    done = review(client, stored["id"], "relabel", 9, headers=BO)
    assert done["review"]["learn"] == 9 and done["review"]["by"] == "bo"
    settle(client, learner)
    assert ledger(store).count(stored["id"]) == 1 and ledger(store).count(done["review"]["id"]) == 1
    drawing = info(client, stored["id"])
    assert drawing["status"] == "relabelled" and drawing["label"] == 9
    assert memory_counts(client, writer)[4] == 0 and memory_counts(client, writer)[9] == 1
    again = review(client, stored["id"], "accept")  # the models learned 9 already: nothing more to learn
    assert again["review"]["learn"] is None
    settle(client, learner)
    assert ledger(store).count(again["review"]["id"]) == 0 and applied(store).count(again["review"]["id"]) == 1


def test_discarding_takes_a_drawing_out_of_replay_memory_gallery_and_export(client, learner, pen, store, tmp_path):
    writer = new_writer()
    stored = save(client, pen[2][3], 2, writer)
    settle(client, learner)
    assert stored["id"] in learner.replay and memory_counts(client, writer)[2] == 1
    done = review(client, stored["id"], "discard")
    assert done["review"]["learn"] is None and done["drawing"]["status"] == "discarded"
    settle(client, learner)
    assert stored["id"] not in learner.replay and memory_counts(client, writer)[2] == 0
    assert applied(store).count(done["review"]["id"]) == 1
    assert stored["id"] not in {d["id"] for d in client.get("/api/drawings", params={"limit": 200}).json()["items"]}
    assert stored["id"] not in {line["key_id"] for line in export(store, tmp_path)}


def test_undo_puts_a_drawing_back_and_the_audit_log_says_who_did_what(client, learner, pen):
    stored = save(client, pen[5][0], 5)
    first = review(client, stored["id"], "discard")
    undone = review(client, stored["id"], "undo", headers=BO)
    assert undone["review"]["undoes"] == first["review"]["id"] and undone["drawing"]["status"] == "pending"
    r = client.post(f"/api/admin/review/{stored['id']}", json={"action": "undo"}, headers=ANA)
    assert r.status_code == 409 and "nothing to undo" in r.json()["detail"]  # undo goes back, one step at a time
    relabelled = review(client, stored["id"], "relabel", 3)
    assert review(client, stored["id"], "undo")["drawing"]["label"] == 5 != relabelled["drawing"]["label"]
    log = client.get("/api/admin/audit", params={"limit": 4}, headers=ANA).json()["items"]
    assert [(e["action"], e["by"]) for e in log] == [("undo", "ana"), ("relabel", "ana"), ("undo", "bo"),
                                                     ("discard", "ana")]
    assert all(e["drawing"] == stored["id"] for e in log)


def test_an_undo_takes_back_only_a_review_its_reviewer_saw_never_a_colleagues_made_since(client, pen):
    """The console sends the reviews it has seen (``undoes``): if a colleague reviewed the drawing since, ana's
    undo is refused with who did what, instead of silently taking back bo's decision."""
    one, two = save(client, pen[5][1], 5), save(client, pen[5][2], 5)
    mine = {d["id"]: review(client, d["id"], "discard")["review"]["id"] for d in (one, two)}
    review(client, one["id"], "relabel", 3, headers=BO)  # bo, meanwhile, on one of them
    r = client.post(f"/api/admin/review/{one['id']}", json={"action": "undo", "undoes": [mine[one["id"]]]},
                    headers=ANA)
    assert r.status_code == 409 and r.json()["code"] == "cannot_review", r.text
    assert "bo" in r.json()["detail"] and "relabel" in r.json()["detail"]
    assert info(client, one["id"])["status"] == "relabelled"  # bo's decision stands
    r = client.post("/api/admin/review", json={"action": "undo", "ids": [one["id"], two["id"]],
                                               "undoes": list(mine.values())}, headers=ANA)
    assert r.status_code == 200, r.text
    assert [d["drawing"]["id"] for d in r.json()["done"]] == [two["id"]] and list(r.json()["refused"]) == [one["id"]]
    assert info(client, two["id"])["status"] == "pending" and info(client, one["id"])["label"] == 3
    r = client.post(f"/api/admin/review/{two['id']}", json={"action": "accept", "undoes": ["r1"]}, headers=ANA)
    assert r.status_code == 422 and "undo" in r.json()["detail"]  # only an undo takes back reviews


def test_the_review_queue_puts_the_most_suspicious_first_and_filters(client, pen):
    writer = new_writer()
    for image, label in [(pen[6][4], 6), (pen[6][5], 0), (pen[8][4], 8), (pen[8][5], 3)]:
        save(client, image, label, writer)
    body = client.get("/api/admin/review", params={"writer": "", "status": ""}, headers=ANA).json()
    suspicion = [item["suspicion"] for item in body["items"]]
    assert suspicion == sorted(suspicion, reverse=True) and len(body["items"]) >= 4
    mine = [item for item in body["items"] if item["writer"] in body["writers"]]
    alias = next(i["writer"] for i in body["items"] if i["given"] == 0 and i["status"] == "quarantined")
    theirs = client.get("/api/admin/review", params={"writer": alias}, headers=ANA).json()
    assert {i["given"] for i in theirs["items"]} == {6, 0, 8, 3}
    assert theirs["writers"][alias]["drawings"] == 4 and theirs["writers"][alias]["quarantined"] == 2
    held = client.get("/api/admin/review", params={"status": "quarantined", "label": 0}, headers=ANA).json()
    assert held["items"] and all(i["status"] == "quarantined" and i["label"] == 0 for i in held["items"])
    first = client.get("/api/admin/review", params={"limit": 2}, headers=ANA).json()
    second = client.get("/api/admin/review", params={"limit": 2, "cursor": first["next"]}, headers=ANA).json()
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]} and mine
    assert client.get("/api/admin/review", params={"cursor": "nonsense"}, headers=ANA).status_code == 422


def test_bulk_review_and_what_it_refuses(client, pen):
    ids = [save(client, pen[9][i], 1)["id"] for i in range(3)]
    r = client.post("/api/admin/review", json={"ids": ids + ["20260101T000000000Z-0000000000"], "action": "discard"},
                    headers=ANA)
    assert r.status_code == 200 and len(r.json()["done"]) == 3
    assert list(r.json()["refused"]) == ["20260101T000000000Z-0000000000"]
    r = client.post(f"/api/admin/review/{ids[0]}", json={"action": "relabel"}, headers=ANA)
    assert r.status_code == 409 and "label" in r.json()["detail"]


def test_a_writer_whose_labels_are_mostly_held_has_the_rest_held_too(client, learner, pen):
    vandal = new_writer()
    honest_looking = [save(client, pen[d][6], d, vandal)["id"] for d in range(3)]  # three right, to start
    for i in range(12):
        save(client, pen[i % 10][7], (i % 10 + 5) % 10, vandal)  # then every label wrong
    settle(client, learner)
    assert all(info(client, i)["status"] == "quarantined" for i in honest_looking)
    assert sum(memory_counts(client, vandal)) == 0
    later = save(client, pen[4][8], 4, vandal)  # even a right one now waits for a reviewer
    assert info(client, later["id"])["status"] == "quarantined"


# --- who may ----------------------------------------------------------------------------------------


def test_the_admin_api_wants_a_named_token(client, tmp_path):
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": "Basic YW5h"}):
        for method, path in (("GET", "/api/admin/review"), ("GET", "/api/admin/audit"),
                             ("POST", "/api/admin/review/20260101T000000000Z-0000000000")):
            r = client.request(method, path, headers=headers, json={"action": "accept"})
            assert r.status_code == 401 and "items" not in r.text, (method, path, headers)
    with TestClient(create_app(Settings(data_dir=tmp_path))) as plain:
        assert plain.get("/api/admin/review", headers=ANA).status_code == 403
    with pytest.raises(ValueError, match="INKLING_ADMIN_TOKENS"):
        Settings(admin_tokens="ana:short")


# --- strokes --------------------------------------------------------------------------------------


def test_strokes_are_kept_beside_the_drawing(client, pen):
    strokes = [[[10, 20, 30], [40, 50, 60], [0, 8, 16]], [[100, 110], [40, 60], [300, 316]]]
    stored = save(client, pen[1][2], 1, strokes=strokes)
    assert client.get(f"/api/drawings/{stored['id']}/strokes").json() == strokes
    assert client.get(f"/api/drawings/{save(client, pen[1][3], 1)['id']}/strokes").status_code == 404


@pytest.mark.parametrize(("strokes", "why"), [
    ([[[1.0], [2.0], [0.0]]] * 65, "65 strokes"),
    ([[[1.0] * 4097, [2.0] * 4097, list(range(4097))]], "4096 points"),
    ([[[1.0, 2.0], [2.0], [0.0, 1.0]]], "each point needs all three"),
    ([[[1.0, 2.0], [2.0, 3.0], [5.0, 1.0]]], "time goes back"),
    ([[[1e9], [2.0], [0.0]]], "finite numbers"),
    ([], "list of strokes"),
])
def test_strokes_that_are_not_a_drawings_get_a_clear_422(client, pen, strokes, why):
    r = client.post("/api/drawings", json={"image": pen[1][0], "label": 1, "strokes": strokes})
    assert r.status_code == 422 and why in r.json()["detail"], r.text
