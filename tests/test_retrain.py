"""The retrain job (``python -m service.retrain``): what it learns from, what it changes, and that it resumes.

Small on purpose: a thousand base images (INKLING_RETRAIN_BASE_LIMIT), one or two epochs, a few hundred crowd
drawings (pendigits test writers, as the service would have stored them) written straight into real stores in
temporary folders, and the gate's minimum lowered to fit. What retraining is worth is
``scripts/retrain_crowd.py``'s business (docs/retrain.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from lab.drawn import load_drawn_pendigits
from models import load_original
from service.core.curation import ReviewStore, decide
from service.core.lineup import KINDS, original
from service.core.parts import build_parts
from service.core.promotions import PromotionStore
from service.core.settings import PROJECT_ROOT, Settings
from service.core.storage import DrawingRecord, LocalDrawingStore, LocalObjects, WeightStore
from service.core.storage.ids import new_drawing_id, utc_iso
from service.retrain.job import EXIT_OUT_OF_TIME, EXIT_USAGE, Retrain, parse_args
from service.retrain.runs import RunStore
from service.web.versions import FollowedModel, VersionFollower

T0 = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
QUICK = {"retrain_base_limit": 1000, "promotion_min_drawings": 40}
QUICK_ENV = {"INKLING_RETRAIN_BASE_LIMIT": "1000", "INKLING_PROMOTION_MIN_DRAWINGS": "40",
             "INKLING_RETRAIN_THREADS": "1"}
# What a gate that only asks the challenger to be ahead on the crowd looks like (the promotion test).
LENIENT = {"promotion_p_below": 1.0, "promotion_holdout_drop": 1.0, "promotion_writer_drop": 1.0}


@pytest.fixture(scope="module")
def pendigits():
    X, y, writers = load_drawn_pendigits("test")
    return np.round(X * 255).astype(np.uint8), y.astype(int), writers.astype(int)


def put_crowd(root: Path, pendigits, n: int, *, first: int = 0, mirror: bool = False, **fields) -> list[DrawingRecord]:
    """``n`` pendigits test drawings stored one second apart from T0 (+ ``first`` s), each with its writer."""
    X, y, writers = pendigits
    store, records = LocalDrawingStore(root), []
    for i in range(first, first + n):
        moment = T0 + timedelta(seconds=i)
        image = X[i][:, ::-1] if mirror else X[i]
        record = DrawingRecord(new_drawing_id(moment), int(y[i]), utc_iso(moment), fields.get("train", True),
                               "c0ffee", image.tobytes(), writer=f"{int(writers[i]):032x}",
                               suspicion=0.95 if fields.get("status") == "quarantined" else 0.05,
                               status=fields.get("status", "pending"))
        store.put(record, b"png")
        records.append(record)
    return records


def run_job(root: Path, *args: str, listen=None, **settings) -> int:
    """The job in this process, on the stores in ``root`` (its output goes to capsys); ``listen(model, version)``
    hears what it announces on the queue's channel, as a web worker does."""
    parts = build_parts(Settings(data_dir=root, **{**QUICK, **settings}))
    if listen is not None:
        parts.queue.subscribe(listen)
    return Retrain(parts, parse_args(list(args))).run()


def leftovers(root: Path) -> list[str]:
    return [name for name, _ in LocalObjects(root).list("retrain/")]


def test_the_first_run_with_no_crowd_says_so_and_changes_nothing(tmp_path, pendigits, capsys):
    put_crowd(tmp_path, pendigits, 30, status="quarantined")
    assert run_job(tmp_path) == 0
    out = capsys.readouterr().out.strip()
    assert out == ("not retrained: 0 crowd drawings to learn from (30 quarantined left out); a retrain needs some to "
                   "learn from and at least 40 more to judge on")
    [record] = PromotionStore(LocalObjects(tmp_path)).list()
    assert (record.status, record.reason, record.models) == ("skipped", out, {})
    assert record.champion == {"fnn": 0, "cnn": 0}
    weights = WeightStore(LocalObjects(tmp_path))
    assert weights.current(original("fnn")) is None and weights.current(original("cnn")) is None
    assert leftovers(tmp_path) == []


def test_too_few_drawings_after_the_cutoff_to_judge_is_skipped(tmp_path, pendigits, capsys):
    put_crowd(tmp_path, pendigits, 100)
    assert run_job(tmp_path, "--cutoff", utc_iso(T0 + timedelta(seconds=79))) == 0
    assert capsys.readouterr().out.strip() == (
        "not retrained: only 20 crowd drawings after the cut-off 2026-12-01T10:01:19.000Z to judge on (the gate needs "
        "40)")
    assert PromotionStore(LocalObjects(tmp_path)).list()[0].status == "skipped"


def test_quarantined_discarded_and_private_drawings_never_reach_training(tmp_path, pendigits, capsys):
    honest = put_crowd(tmp_path, pendigits, 150)
    held = put_crowd(tmp_path, pendigits, 20, first=150, status="quarantined")
    private = put_crowd(tmp_path, pendigits, 10, first=170, train=False)
    later = put_crowd(tmp_path, pendigits, 110, first=180)
    reviews = ReviewStore(LocalObjects(tmp_path))
    discarded = honest[:15] + later[:5]
    for record in discarded:
        reviews.put(decide(record, [], "discard", by="ana"))
    accepted, relabelled = held[0], honest[20]
    reviews.put(decide(accepted, [], "accept", by="ana"))
    relabel = decide(relabelled, [], "relabel", label=(relabelled.label + 1) % 10, by="ana")
    reviews.put(relabel)

    assert run_job(tmp_path, "--models", "fnn", "--epochs", "1") == 0
    promotions = PromotionStore(LocalObjects(tmp_path))
    [record] = promotions.list()
    crowd = promotions.crowd(record.id)
    seen = {i: (label, extra) for i, label, extra in crowd["trained"] + crowd["judged"]}
    never = {r.id for r in discarded + private} | {r.id for r in held[1:]}
    assert not never & set(seen)
    learnable = len(honest) + len(later) - len(discarded) + 1  # + the accepted one
    assert len(seen) == learnable
    data = record.card["data"]
    assert data["excluded"] == {"discarded": 20, "quarantined": 19, "no_consent": 10}
    assert data["crowd"] + data["judged"] == learnable and data["reviewed"] == 2
    weights = {i: w for i, _, w in crowd["trained"]}
    assert weights[accepted.id] == 16 and weights[relabelled.id] == 16 and weights[honest[30].id] == 8
    assert seen[relabelled.id][0] == relabel.after_label != relabelled.label
    trained, judged = sorted(i for i, _, _ in crowd["trained"]), sorted(i for i, _, _ in crowd["judged"])
    assert trained[-1] < judged[0] and len(judged) == 61  # the newest quarter is held out to judge on


def test_a_refused_challenger_changes_nothing_served(tmp_path, pendigits, capsys):
    put_crowd(tmp_path, pendigits, 300)
    heard = []
    assert run_job(tmp_path, "--models", "fnn", "--epochs", "1", listen=lambda *news: heard.append(news)) == 0
    assert heard == []
    reason = capsys.readouterr().out.strip()
    promotions = PromotionStore(LocalObjects(tmp_path))
    [record] = promotions.list()
    assert record.status == "judged" and not record.models["fnn"]["promote"]
    assert reason == record.reason and reason.startswith("FNN not promoted: crowd holdout ")
    weights = WeightStore(LocalObjects(tmp_path))
    assert weights.current(original("fnn")) is None and weights.current(original("cnn")) is None
    assert len(promotions.challenger(record, "fnn")) > 0  # kept, checked against its sha256, for an admin to force
    assert record.card["data"]["base"] == 1000 and record.card["epochs"] == {"fnn": 1}
    assert leftovers(tmp_path) == []


def test_a_passing_challenger_becomes_the_next_version_of_its_original(tmp_path, pendigits, capsys):
    """The crowd writes its digits mirrored, which the shipped originals mostly misread: a challenger that learned
    them is ahead on the crowd after the cut-off (with a gate that asks no more than that)."""
    put_crowd(tmp_path, pendigits, 300, mirror=True)
    # A web worker's follower of the originals that polls once an hour: only the job's announcement moves it.
    follower = VersionFollower({original(kind): FollowedModel(original(kind), load_original(kind, "digits",
                                                                                             serving=True),
                                                              WeightStore(LocalObjects(tmp_path)))
                                for kind in KINDS}, (), refresh_seconds=3600)
    follower.start_thread()
    heard = []

    def listen(model: str, version: int) -> None:
        heard.append((model, version))
        follower.poke()

    assert run_job(tmp_path, "--epochs", "1", listen=listen, **LENIENT) == 0
    promotions, weights = PromotionStore(LocalObjects(tmp_path)), WeightStore(LocalObjects(tmp_path))
    [record] = promotions.list()
    assert capsys.readouterr().out.strip() == record.reason
    for kind in ("fnn", "cnn"):
        assert record.models[kind]["promote"], record.models[kind]["reason"]
        head = weights.current(original(kind))
        assert head.version == 1 and head.meta["promotion"] == record.id and head.meta["by"] == "retrain"
        assert head.meta["cutoff"] == record.cutoff and head.sha256 == record.models[kind]["sha256"]
    # Announced as the learner announces its versions, and served at once (not at the next poll).
    assert heard == [("fnn_original", 1), ("cnn_original", 1)]
    try:
        deadline = time.monotonic() + 60
        while any(m.version != 1 for m in follower.models.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {name: m.version for name, m in follower.models.items()} == {"fnn_original": 1, "cnn_original": 1}
    finally:
        follower.stop()
    assert leftovers(tmp_path) == []

    # The next run never judges on drawings the champion trained on: not by default (holding out half would put
    # the cut-off 75 drawings before the champion's) ...
    assert run_job(tmp_path, retrain_held_out_share=0.5, **{**LENIENT, "promotion_min_drawings": 80}) == 0
    assert capsys.readouterr().out.strip() == (f"not retrained: only 75 crowd drawings after the cut-off "
                                               f"{record.cutoff} to judge on (the gate needs 80)")
    # ... and not when asked to.
    assert run_job(tmp_path, "--cutoff", "2026-12-01T10:01:00Z", **LENIENT) == EXIT_USAGE
    assert f"is before {record.cutoff}, the cut-off of the original served now" in capsys.readouterr().err
    assert [weights.current(original(kind)).version for kind in ("fnn", "cnn")] == [1, 1]


def test_out_of_time_is_not_a_promotion_and_the_next_start_resumes_it(tmp_path, pendigits, capsys):
    put_crowd(tmp_path, pendigits, 300)
    assert run_job(tmp_path, "--models", "fnn", "--epochs", "2", "--max-minutes", "0.0001") == EXIT_OUT_OF_TIME
    err = capsys.readouterr().err
    assert "out of time" in err and "Run `python -m service.retrain` again" in err
    runs, promotions = RunStore(LocalObjects(tmp_path)), PromotionStore(LocalObjects(tmp_path))
    [waiting] = runs.run_ids()
    assert promotions.list() == []

    assert run_job(tmp_path, "--epochs", "3") == EXIT_USAGE  # not what the waiting run was planned with
    assert "add --fresh to abandon it" in capsys.readouterr().err
    assert run_job(tmp_path) == 0
    assert "resuming the unfinished run" in capsys.readouterr().err
    [record] = promotions.list()
    assert record.id == waiting and record.card["epochs"] == {"fnn": 2} and runs.run_ids() == []

    # --fresh abandons a waiting run (its plan and checkpoints) and plans a new one.
    assert run_job(tmp_path, "--models", "fnn", "--max-minutes", "0.0001") == EXIT_OUT_OF_TIME
    [abandoned] = runs.run_ids()
    assert run_job(tmp_path, "--fresh", "--models", "fnn", "--epochs", "1") == 0
    assert f"retrain {abandoned}: abandoned (--fresh)" in capsys.readouterr().err
    newest = promotions.list()[0]
    assert newest.id not in (abandoned, waiting) and runs.run_ids() == [] and leftovers(tmp_path) == []


def test_without_tensorflow_the_job_stops_and_says_where_to_run_it(monkeypatch):
    """A web worker's image has no TensorFlow: the job must say so, not fail half-way."""
    from service.retrain import job

    real = job.importlib.util.find_spec
    monkeypatch.setattr(job.importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(SystemExit) as stop:
        job.main([])
    assert "needs the learner's packages (tensorflow missing)" in str(stop.value)
    assert "pip install .[learner]" in str(stop.value)


def test_without_the_base_data_the_job_stops_and_says_where_to_run_it(tmp_path, pendigits, capsys, monkeypatch):
    """A checkout installed without --dev has no MNIST: the job must say how to get it, not fail with a traceback."""
    put_crowd(tmp_path, pendigits, 300)
    monkeypatch.setenv("INKLING_MNIST_DIR", str(tmp_path / "no-mnist"))
    assert run_job(tmp_path, "--models", "fnn", "--epochs", "1") == EXIT_USAGE
    said = capsys.readouterr().err
    assert "MNIST file" in said and "is missing" in said and "scripts/install --dev" in said
    assert PromotionStore(LocalObjects(tmp_path)).list() == []
    assert WeightStore(LocalObjects(tmp_path)).current(original("fnn")) is None


def test_without_the_laboratory_the_job_stops_and_says_where_to_run_it(tmp_path, pendigits, capsys, monkeypatch):
    """The web image has no lab/: an ImportError would be a traceback; the job says where it can run instead."""
    put_crowd(tmp_path, pendigits, 300)
    monkeypatch.setitem(sys.modules, "lab.recipe", None)  # what `import lab.recipe` meets in an image
    assert run_job(tmp_path, "--models", "fnn") == EXIT_USAGE
    said = capsys.readouterr().err
    assert "the laboratory cannot be imported" in said and "scripts/install --dev" in said
    assert PromotionStore(LocalObjects(tmp_path)).list() == [] and leftovers(tmp_path) == []


# --- killed mid-way, for real ----------------------------------------------------------------------------

def start_job(root: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    """The job as a process of its own, one TensorFlow thread (QUICK_ENV); stderr to ``log`` if given."""
    env = {**os.environ, "INKLING_DATA_DIR": str(root), **QUICK_ENV}
    return subprocess.Popen([sys.executable, "-m", "service.retrain", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=log.open("w") if log else subprocess.PIPE, text=True)


def test_a_job_killed_after_a_checkpoint_resumes_and_ends_as_an_uninterrupted_one(tmp_path, pendigits):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    put_crowd(killed, pendigits, 300)
    shutil.copytree(killed, whole)  # the same drawings, ids and all
    args = ("--epochs", "2", "--cutoff", utc_iso(T0 + timedelta(seconds=224)))

    # The uninterrupted run beside the killed one (one thread each: two cores take both at once).
    uninterrupted = start_job(whole, *args, log=tmp_path / "whole.log")
    job = start_job(killed, *args)
    lines = []
    try:
        for line in job.stderr:
            lines.append(line)
            if ": cnn epoch 1/2 " in line and "checkpoint" in line:
                job.send_signal(signal.SIGKILL)  # mid-way: the FNN done, the CNN one epoch in
                break
    finally:
        if job.poll() is None:
            job.kill()
        job.wait()
    try:
        assert job.returncode == -signal.SIGKILL, "".join(lines)[-3000:]
        promotions = PromotionStore(LocalObjects(killed))
        assert promotions.list() == [] and RunStore(LocalObjects(killed)).run_ids()

        resumed = start_job(killed)
        out, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err[-3000:]
        assert "resuming the unfinished run" in err and "fnn resumes after epoch 2/2" in err
        assert "cnn resumes after epoch 1/2" in err
        out_whole, _ = uninterrupted.communicate(timeout=600)
        assert uninterrupted.returncode == 0, (tmp_path / "whole.log").read_text()[-3000:]
    finally:
        if uninterrupted.poll() is None:
            uninterrupted.kill()
            uninterrupted.wait()

    [a], [b] = promotions.list(), PromotionStore(LocalObjects(whole)).list()
    assert a.card["resumed"] and not b.card["resumed"]
    for kind in ("fnn", "cnn"):
        assert a.models[kind]["sha256"] == b.models[kind]["sha256"]
        assert a.models[kind]["figures"] == b.models[kind]["figures"]
    assert a.card["losses"] == b.card["losses"] and out == out_whole == a.reason + "\n"
    assert leftovers(killed) == [] and leftovers(whole) == []


# --- on S3 (SeaweedFS) --------------------------------------------------------------------------------------

@pytest.mark.s3
def test_a_run_planned_on_one_machine_finishes_on_another_through_s3(seaweedfs, s3_bucket, tmp_path, pendigits,
                                                                      capsys):
    from service.core.storage import S3DrawingStore, make_s3_client

    local = tmp_path / "local"
    put_crowd(local, pendigits, 300)
    s3 = S3DrawingStore(make_s3_client(seaweedfs.endpoint_url, "us-east-1"), s3_bucket, "inkling")
    for record in LocalDrawingStore(local).iter_records():
        s3.put(record, b"png")
    on_s3 = {"storage": "s3", "s3_bucket": s3_bucket, "s3_endpoint_url": seaweedfs.endpoint_url,
             "s3_region": "us-east-1", "data_dir": tmp_path / "unused"}

    def job(*args: str) -> int:
        parts = build_parts(Settings(**{**QUICK, **on_s3}))  # a process of its own, as on another machine
        return Retrain(parts, parse_args(list(args))).run()

    assert job("--models", "fnn", "--epochs", "1", "--max-minutes", "0.0001") == EXIT_OUT_OF_TIME
    assert job() == 0
    assert "resuming the unfinished run" in capsys.readouterr().err
    objects = build_parts(Settings(**{**QUICK, **on_s3})).weights.objects
    [record] = PromotionStore(objects).list()
    assert record.status == "judged" and record.card["data"]["crowd"] + record.card["data"]["judged"] == 300
    assert [name for name, _ in objects.list("retrain/")] == []
    assert len(PromotionStore(objects).crowd(record.id)["trained"]) == record.card["data"]["crowd"]
