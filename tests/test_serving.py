"""Serving without TensorFlow: the web worker's CNN (numpy) gives the Keras CNN's answers,
for the shipped weights and for weights the learner moved, and a web worker never imports TensorFlow.

The full figures (all 10,000 MNIST test digits and 3,498 pen digits) are printed by
``scripts/bench_models.py``; here a subset keeps the test short.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from inkling_testkit.live_service import PROJECT_ROOT
from lab.data import load_mnist
from lab.drawn import load_drawn_pendigits
from models import augment, load_original
from models.cnn import CNN
from models.alphabets import load_alphabet
from models.cnn_numpy import NumpyCNN, random_weights
from models.preprocess import BOX

TOLERANCE = 1e-5  # max abs difference of probabilities and feature maps


@pytest.fixture(scope="module")
def images():
    """1,000 MNIST test digits and 500 pen digits, as the models see them."""
    mnist, _ = load_mnist("test")
    pen, _, _ = load_drawn_pendigits("test")
    return np.concatenate([mnist[::10].astype(np.float32) / 255, pen[::7]])


@pytest.fixture(scope="module")
def stepped():
    """The shipped CNN after 100 online steps, as the learner takes them (24 variants of a pen digit each)."""
    model = load_original("cnn", "digits")
    model.online_lr = 0.03
    pen, labels, _ = load_drawn_pendigits("test")
    for i in range(100):
        model.partial_fit(augment(pen[3 + 7 * i], BOX), np.full(24, labels[3 + 7 * i]))
    return model


@pytest.mark.parametrize("version", ["shipped", "after 100 online steps"])
def test_serving_cnn_gives_the_keras_answers(version, images, stepped):
    keras = load_original("cnn", "digits") if version == "shipped" else stepped
    served = NumpyCNN.from_bytes(keras.to_bytes())
    expected, got = keras.predict_proba(images), served.predict_proba(images)
    assert np.abs(expected - got).max() <= TOLERANCE
    np.testing.assert_array_equal(expected.argmax(axis=1), got.argmax(axis=1))
    if version != "shipped":  # the steps moved the answers far more than the tolerance
        assert np.abs(expected - load_original("cnn", "digits").predict_proba(images)).max() > 0.01
    keras_maps, served_maps = keras.activations(images[:8]), served.activations(images[:8])
    for name in keras_maps:
        assert served_maps[name].shape == keras_maps[name].shape
        assert np.abs(served_maps[name] - keras_maps[name]).max() <= TOLERANCE, name


def test_archives_round_trip_between_the_twins(stepped):
    """A version written by either reads back bit for bit in the other (the web worker publishes rollbacks)."""
    served = NumpyCNN.from_bytes(stepped.to_bytes())
    for a, b in zip(CNN.from_bytes(served.to_bytes()).get_weights(), stepped.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_wrong_weights_are_refused():
    weights = random_weights(10)
    with pytest.raises(ValueError, match="shapes"):
        NumpyCNN(weights[:-1])
    with pytest.raises(ValueError, match="shapes"):
        NumpyCNN([w.T for w in weights])


IMPORTS_PROBE = textwrap.dedent("""
    import json, sys
    from fastapi.testclient import TestClient
    from service.app import app
    image = sys.stdin.read()
    with TestClient(app) as client:
        answers = [client.post(path, json={"image": image}).status_code for path in ("/api/predict", "/api/activations")]
    watched = ("tensorflow", "keras", "skimage", "scipy", "lab", "service.learn")  # heavy, or what only learning needs
    print(json.dumps({"answers": answers, "imported": sorted(m for m in watched if m in sys.modules)}))
""")


def probe_imports(env: dict) -> dict:
    """Start the app in a fresh interpreter, predict once, and say which heavy packages (and which of the
    laboratory and the learning wing) it imported."""
    from lab.data import load_pendigits
    from lab.render import render_pendigit

    image = "data:image/png;base64," + base64.b64encode(render_pendigit(load_pendigits("test")[0])).decode()
    out = subprocess.run([sys.executable, "-c", IMPORTS_PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True,
                         text=True, timeout=120, input=image)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.redis
def test_a_web_worker_never_imports_tensorflow(queue_env, tmp_path):
    env = {**os.environ, **queue_env, "INKLING_ROLE": "web", "INKLING_DATA_DIR": str(tmp_path)}
    assert probe_imports(env) == {"answers": [200, 200], "imported": []}


def test_the_embedded_default_learns_with_tensorflow(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("INKLING_")}
    probe = probe_imports({**env, "INKLING_DATA_DIR": str(tmp_path)})
    assert probe["answers"] == [200, 200] and "tensorflow" in probe["imported"]


class RefreshingPredictor:
    """The original FNN, which lets the online models move to a new version while it is predicting."""

    def __init__(self, model, on_predict):
        self.model, self.on_predict = model, on_predict

    def predict_proba(self, X):
        self.on_predict()
        return self.model.predict_proba(X)


def test_the_versions_reported_are_the_versions_used(tmp_path):
    """A new version served in the middle of a recognition: each online model's probabilities come from
    the version the response names (the pair is taken once), never from one newer than it says."""
    from service.web.recognizer import Recognizer
    from service.core.storage import LocalObjects, WeightStore

    store = WeightStore(LocalObjects(tmp_path))
    originals = {kind: load_original(kind, "digits", serving=True) for kind in ("fnn", "cnn")}
    recognizer = Recognizer.following(originals, store, load_alphabet("digits"))
    online = recognizer.online
    moved = load_original("fnn", "digits")
    moved.partial_fit(np.random.default_rng(0).random((24, 28, 28), dtype=np.float32), np.full(24, 3))
    store.publish("fnn_online", moved.to_bytes(), 0, {"drawings": []})
    publish = lambda: online["fnn_online"].refresh()  # noqa: E731 - the race, made to happen
    recognizer.models["fnn_original"].served = (RefreshingPredictor(originals["fnn"], publish), None)
    x = load_drawn_pendigits("test")[0][0]
    recognition = recognizer.recognize(x)
    assert online["fnn_online"].version == 1  # served from the middle of the recognition on
    used = originals["fnn"] if recognition.versions["fnn_online"] == 0 else moved
    np.testing.assert_allclose(recognition.probs["fnn_online"], used.predict_proba(x[None])[0], rtol=1e-6)


FAULTS_PROBE = textwrap.dedent("""
    import json, resource
    from concurrent.futures import ThreadPoolExecutor
    from io import BytesIO
    from PIL import Image
    from lab.data import load_pendigits
    from lab.render import render_pendigit
    from models import load_original
    from models.preprocess import BOX, preprocess_drawing
    from service.core.tuning import tune_malloc_for_serving
    tune_malloc_for_serving()
    rgba = BytesIO()  # a canvas's own PNG: the largest temporaries a drawing makes
    Image.open(BytesIO(render_pendigit(load_pendigits("test")[0]))).convert("RGBA").save(rgba, format="PNG")
    models = [load_original(kind, "digits", serving=True) for kind in ("fnn", "fnn", "cnn", "cnn")]
    def predict():
        x = preprocess_drawing(rgba.getvalue(), BOX)[None]
        return [m.predict_proba(x) for m in models]
    inference = ThreadPoolExecutor(1)  # as a web worker predicts: off the main thread, in an arena of its own
    for _ in range(50):
        inference.submit(predict).result()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(200):
        inference.submit(predict).result()
    print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 200))
""")


def test_a_serving_process_reuses_its_memory_between_predictions():
    """With glibc tuned to give memory back (service.core.tuning.tune_malloc_for_serving), the heap must still
    keep what one prediction needs: trimming it after each one made the next fault its pages back in
    (~270 page faults a prediction, a third of a web worker's CPU)."""
    out = subprocess.run([sys.executable, "-c", FAULTS_PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    faults_per_prediction = json.loads(out.stdout.strip().splitlines()[-1])
    assert faults_per_prediction < 5, faults_per_prediction
