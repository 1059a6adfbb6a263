"""An alphabet is data: a made-up third one runs the whole service with no code of its own.

Three shapes (◯ △ ✕), random weights and a random sample, written to a temporary folder:
the models take their class count from it, the API validates labels and names classes by
its glyphs, drawings are stored and learned, and writers' memories have its classes.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from lab.data import _parse_idx
from models.alphabets import load_alphabet
from models.cnn_numpy import NumpyCNN, random_weights
from models.fnn import FNN
from service.app import create_app
from service.core.settings import Settings
from service.core.storage import LocalDrawingStore

GLYPHS = ["◯", "△", "✕"]


@pytest.fixture(scope="module")
def shapes_alphabet(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("shapes")
    (folder / "fnn.npz").write_bytes(FNN(n_classes=3, seed=1).to_bytes())
    (folder / "cnn.npz").write_bytes(NumpyCNN(random_weights(seed=1, n_classes=3)).to_bytes())
    rng = np.random.default_rng(0)
    images = (rng.random((60, 28, 28)) * 255).astype(np.uint8)
    np.savez(folder / "sample.npz", holdout_x=images[:30], holdout_y=np.arange(30) % 3,
             replay_x=images[30:], replay_y=np.arange(30) % 3)
    (folder / "shapes.json").write_text(json.dumps({
        "name": "shapes", "title": "Shapes", "glyphs": GLYPHS, "canvas": {"size": 200, "line_width": 10},
        "weights": {"fnn": "fnn.npz", "cnn": "cnn.npz"}, "sample": "sample.npz", "rows": [[0, None, 1], [2]],
    }, ensure_ascii=False))
    return str(folder / "shapes.json")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def client(shapes_alphabet, store):
    settings = Settings(alphabet=shapes_alphabet, data_dir=store, drawings_burst=100, guard_tolerance=1.0)
    with TestClient(create_app(settings)) as client:
        yield client


def movable(alphabet_file: str) -> dict:
    """The alphabet file's contents with its paths made absolute, to write a variant of it elsewhere."""
    spec = json.loads(Path(alphabet_file).read_text(encoding="utf-8"))
    folder = Path(alphabet_file).parent
    spec["weights"] = {kind: str(folder / name) for kind, name in spec["weights"].items()}
    spec["sample"] = str(folder / spec["sample"])
    return spec


def drawing(size: int = 200) -> str:
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).ellipse((40, 40, 160, 160), outline="black", width=10)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_the_page_is_told_the_alphabet(client):
    config = client.get("/api/config").json()
    assert config["labels"] == [{"label": i, "glyph": g} for i, g in enumerate(GLYPHS)]
    assert config["alphabet"]["name"] == "shapes" and config["alphabet"]["rows"] == [[0, None, 1], [2]]
    assert config["canvas"]["size"] == 200 and config["canvas"]["line_width"] == 10


def test_answers_name_its_classes(client):
    body = client.post("/api/predict", json={"image": drawing()}).json()
    for top in body["models"].values():
        assert len(top) == 3 and {t["glyph"] for t in top} == set(GLYPHS)
        assert all(t["digit"] is None and t["glyph"] == GLYPHS[t["label"]] for t in top)
    answer = body["answer"]
    assert answer["digit"] is None and (answer["label"] is None or answer["glyph"] == GLYPHS[answer["label"]])


def test_labels_are_its_labels(client):
    r = client.post("/api/drawings", json={"image": drawing(), "label": 3})
    assert r.status_code == 422 and "0-2" in r.json()["detail"] and "Shapes" in r.json()["detail"]
    assert client.get("/api/drawings", params={"label": 3}).status_code == 422
    r = client.post("/api/drawings", json={"image": drawing(), "label": 2, "writer": "shapes-writer-1-000000"})
    assert r.status_code == 201 and r.json()["stored"] and r.json()["trained"], r.text
    assert r.json()["learned"] == {"fnn_online": 1, "cnn_online": 1}  # learned by the learner's 3-class models
    assert client.get("/api/stats").json()["counts"] == [0, 0, 1]
    me = client.get("/api/me", headers={"Inkling-Writer": "shapes-writer-1-000000"}).json()
    assert me["counts"] == [0, 0, 1]
    forgotten = client.delete("/api/me", headers={"Inkling-Writer": "shapes-writer-1-000000"}).json()
    assert forgotten["counts"] == [0, 0, 0] and forgotten["drawings"] == 0


def test_what_it_collected_exports_with_its_labels(client, shapes_alphabet, store, tmp_path):
    """Predict, learn, memory (above) and export: a 3-class alphabet end to end, no digit constant on the way."""
    for label in (0, 1):
        assert client.post("/api/drawings", json={"image": drawing(), "label": label}).status_code == 201
    env = {**os.environ, "INKLING_ALPHABET": shapes_alphabet, "INKLING_DATA_DIR": str(store)}
    done = subprocess.run([sys.executable, "scripts/export_dataset", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    labels = _parse_idx((tmp_path / "drawings-labels-idx1-ubyte").read_bytes(), 1)
    assert sorted(labels.tolist()) == sorted(r.label for r in LocalDrawingStore(store).iter_records())
    assert set(labels.tolist()) == {0, 1, 2}


def test_an_unknown_alphabet_stops_the_service_naming_the_choices(monkeypatch):
    monkeypatch.setenv("INKLING_ALPHABET", "klingon")
    with pytest.raises(SystemExit, match="no alphabet 'klingon'.*digits.*hiragana"):
        create_app()


def test_the_shipped_alphabets():
    digits, hiragana = load_alphabet("digits"), load_alphabet("hiragana")
    assert digits.is_digits and digits.n_classes == 10 and digits.weights["cnn"].is_file()
    assert hiragana.n_classes == 71 and not hiragana.is_digits
    assert sorted(c for row in hiragana.rows for c in row if c is not None) == list(range(71))
    assert [hiragana.glyph(c) for c in hiragana.rows[0]] == list("あいうえお")


def test_the_shipped_hiragana_models_meet_their_model_card():
    """On the first 5 of the 40 held-out synthetic writers (355 drawings), within 3 points of the card's figure."""
    from lab.kana import load_drawn_hiragana
    from models import load_original

    hiragana = load_alphabet("hiragana")
    card = json.loads((hiragana.weights["cnn"].parent / "training.json").read_text())
    X, y, _ = load_drawn_hiragana("test", 5)
    for kind in ("fnn", "cnn"):
        accuracy = np.mean(load_original(kind, serving=True, alphabet=hiragana).predict_proba(X).argmax(1) == y)
        assert accuracy >= card[kind]["heldout_writers_accuracy"] - 0.03, (kind, accuracy)
    assert card["cnn"]["heldout_writers_accuracy"] >= 0.97  # the target, on all 40 writers
    assert card["cnn"]["box"] == card["fnn"]["box"] == hiragana.box  # trained on drawings fitted as served


def test_an_alphabet_file_may_weigh_the_models_itself(shapes_alphabet, tmp_path):
    """``"ensemble"`` in the file sets the four models' weights in the answer (here: the original FNN alone)."""
    from models import load_original
    from service.web.recognizer import Recognizer
    from service.core.storage import LocalObjects, WeightStore

    spec = movable(shapes_alphabet)
    spec["ensemble"] = {"fnn_original": 1.0, "fnn_online": 0.0, "cnn_original": 0.0, "cnn_online": 0.0}
    (tmp_path / "fnn-only.json").write_text(json.dumps(spec, ensure_ascii=False))
    alphabet = load_alphabet(str(tmp_path / "fnn-only.json"))
    originals = {kind: load_original(kind, serving=True, alphabet=alphabet) for kind in ("fnn", "cnn")}
    store = WeightStore(LocalObjects(tmp_path))
    recognizer = Recognizer.following(originals, store, alphabet)
    for x in np.random.default_rng(0).random((5, 28, 28), dtype=np.float32):
        recognition = recognizer.recognize(x)
        np.testing.assert_allclose(recognition.answer.probs, recognition.probs["fnn_original"], rtol=1e-5, atol=1e-6)
    spec["ensemble"] = {"fnn_original": -1.0}
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="ensemble"):
        load_alphabet(str(tmp_path / "bad.json"))


def test_an_alphabet_file_may_set_how_strongly_memories_speak(shapes_alphabet, tmp_path):
    """``"memory": {"sharpness": s}`` in the file scales a writer's memory in their answer: at 0 it is
    silent (the answer is everyone's), without the key it speaks with the digits' sharpness.
    ``"complete_sharpness"`` applies apart once the memory has every class."""
    from models import load_original
    from models.prototypes import COMPLETE_SHARPNESS, SHARPNESS, PrototypeMemory, Sharpness
    from service.web.recognizer import Recognizer
    from service.core.storage import LocalObjects, WeightStore

    spec = movable(shapes_alphabet)

    def recognizer(name: str, memory: dict | None) -> Recognizer:
        (tmp_path / f"{name}.json").write_text(json.dumps({**spec, **({"memory": memory} if memory else {})}))
        alphabet = load_alphabet(str(tmp_path / f"{name}.json"))
        originals = {kind: load_original(kind, serving=True, alphabet=alphabet) for kind in ("fnn", "cnn")}
        store = WeightStore(LocalObjects(tmp_path / name))
        return Recognizer.following(originals, store, alphabet)

    silent, default = recognizer("silent", {"sharpness": 0}), recognizer("default", None)
    quiet_when_complete = recognizer("quiet", {"complete_sharpness": 0})
    assert silent.alphabet.memory_sharpness == Sharpness(0.0, 0.0)
    assert default.alphabet.memory_sharpness == Sharpness(SHARPNESS, COMPLETE_SHARPNESS)  # the digits'
    assert quiet_when_complete.alphabet.memory_sharpness == Sharpness(SHARPNESS, 0.0)
    X = np.random.default_rng(1).random((9, 28, 28), dtype=np.float32)
    taught = [default.recognize(x).embedding for x in X[:3]]
    partial = PrototypeMemory.from_entries(np.stack(taught), [2, 2, 2], n_classes=3)  # "everything is a ✕"
    complete = PrototypeMemory.from_entries(np.stack(taught), [0, 1, 2], n_classes=3)
    for x in X[3:]:
        everyone = silent.recognize(x).answer
        for memory in (partial, complete):
            assert np.array_equal(silent.recognize(x, memory).answer.probs, everyone.probs)
        mine = default.recognize(x, partial).answer
        assert mine.probs[2] > everyone.probs[2] and mine.personalised_by == 3
        assert not np.allclose(quiet_when_complete.recognize(x, partial).answer.probs, everyone.probs)
        assert np.array_equal(quiet_when_complete.recognize(x, complete).answer.probs, everyone.probs)
    for memory in ({"sharpness": "high"}, {"complete_sharpness": -1}, {"sharpness": True}, {"loud": 3}):
        (tmp_path / "bad.json").write_text(json.dumps({**spec, "memory": memory}))
        with pytest.raises(ValueError, match="sharpness"):
            load_alphabet(str(tmp_path / "bad.json"))


def longer_side(image28) -> int:
    rows, cols = np.nonzero(np.asarray(image28) > 0.1)
    return int(max(np.ptp(rows), np.ptp(cols))) + 1


def test_an_alphabet_file_may_fit_its_drawings_into_a_box_of_its_own(shapes_alphabet, tmp_path, monkeypatch):
    """``"preprocess": {"box": b}``: what the models read, what is stored for the learner and the variants the
    learner makes from it all have the drawing's longer side at b pixels (here 14), not MNIST's 20."""
    import service.learn.learner as learner_module
    from models.augment import ANGLES, sizes

    spec = movable(shapes_alphabet)
    (tmp_path / "boxed.json").write_text(json.dumps({**spec, "preprocess": {"box": 14}}))
    real_augment, variants = learner_module.augment, []

    def augment(image, box):  # the learner's own, watched
        variants.extend(real_augment(image, box=box))
        return variants[-24:]

    monkeypatch.setattr(learner_module, "augment", augment)
    settings = Settings(alphabet=str(tmp_path / "boxed.json"), data_dir=tmp_path / "store", guard_tolerance=1.0)
    with TestClient(create_app(settings)) as boxed:
        assert longer_side(boxed.post("/api/predict", json={"image": drawing()}).json()["input28"]) == 14
        r = boxed.post("/api/drawings", json={"image": drawing(), "label": 0})
        assert r.status_code == 201 and r.json()["learned"] == {"fnn_online": 1, "cnn_online": 1}, r.text
    record = LocalDrawingStore(tmp_path / "store").get(r.json()["id"])
    assert longer_side(np.frombuffer(record.input28, np.uint8).reshape(28, 28) / 255) == 14
    assert sizes(14) == (11, 13, 14, 15) and len(variants) == 24  # 0.8-1.1x the box
    assert all(abs(longer_side(v) - sizes(14)[k // len(ANGLES)]) <= 1 for k, v in enumerate(variants))

    for bad in (20.5, 4, 29, True):
        (tmp_path / "bad.json").write_text(json.dumps({**spec, "preprocess": {"box": bad}}))
        with pytest.raises(ValueError, match="box"):
            load_alphabet.__wrapped__(str(tmp_path / "bad.json"))


def test_an_alphabet_file_may_show_how_each_glyph_is_written(shapes_alphabet, tmp_path, client):
    """``"strokes"``: the page's stroke-order guide, served with the labels; checked on load (one list of SVG
    paths a label). Without it there is no guide."""
    assert client.get("/api/config").json()["alphabet"]["strokes"] is None
    spec = movable(shapes_alphabet)
    guide = {"box": 100, "source": "drawn for this test",
             "paths": [["M50,10c22,0,40,18,40,40s-18,40-40,40s-40-18-40-40s18-40,40-40"],
                       ["M50,10L90,90", "m90,90H10", "M10,90L50,10"], ["M10,10L90,90", "M90,10L10,90"]]}
    (tmp_path / "strokes.json").write_text(json.dumps(guide))
    (tmp_path / "guided.json").write_text(json.dumps({**spec, "strokes": "strokes.json"}))
    guided = load_alphabet.__wrapped__(str(tmp_path / "guided.json"))
    assert guided.as_dict()["strokes"] == guide and len(guided.strokes["paths"][1]) == 3
    for bad in ({**guide, "paths": guide["paths"][:2]}, {**guide, "paths": [["L0,0"]] * 3}, {**guide, "box": None}):
        (tmp_path / "strokes.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="strokes"):
            load_alphabet.__wrapped__(str(tmp_path / "guided.json"))
    hiragana = load_alphabet("hiragana")
    assert [len(paths) for paths in hiragana.strokes["paths"][:5]] == [3, 2, 2, 2, 3]  # あいうえお
    assert "KanjiVG" in hiragana.strokes["source"] and "CC BY-SA" in hiragana.strokes["source"]
