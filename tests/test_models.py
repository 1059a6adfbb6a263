"""The FNN and the CNN share one estimator interface, and it does what it says."""

import json

import numpy as np
import pytest

from lab.data import load_mnist
from lab.drawn import load_drawn_pendigits
from models import load_original
from models.cnn import CNN
from models.fnn import FNN
from models.registry import WEIGHTS_DIR


def cnn_learning_in(step_dtype: str, **options) -> CNN:
    model = CNN(n_classes=10, seed=1, **options)
    model.step_dtype = step_dtype
    return model


FACTORIES = {"fnn": lambda: FNN(n_classes=10, n_hidden=32, seed=1), "cnn": lambda: CNN(n_classes=10, seed=1),
             "cnn-bfloat16": lambda: cnn_learning_in("bfloat16")}


@pytest.fixture(scope="module")
def batch():
    images, labels = load_mnist("test")
    return images[:24].astype(np.float32) / 255, labels[:24].astype(np.int64)


@pytest.fixture(params=sorted(FACTORIES))
def model(request):
    return FACTORIES[request.param]()


def test_predict_proba_is_a_distribution(model, batch):
    probs = model.predict_proba(batch[0])
    assert probs.shape == (24, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict_proba(batch[0][0]).shape == (1, 10)  # one image works too


def test_rejects_wrong_shapes(model):
    with pytest.raises(ValueError, match="28, 28"):
        model.predict_proba(np.zeros((2, 784), np.float32))


def test_partial_fit_lowers_the_loss_on_its_batch(model, batch):
    X, y = batch
    before = model.loss(X, y)
    model.partial_fit(X, y)
    assert model.loss(X, y) < before


def test_partial_fit_is_one_step_scaled_by_online_lr(batch):
    """Twice the learning rate moves the weights twice as far: exactly one plain SGD step."""
    X, y = batch
    moves = []
    for lr in (0.01, 0.02):
        model = FNN(n_classes=10, n_hidden=32, seed=1, online_lr=lr)
        start = model.get_weights()
        model.partial_fit(X, y)
        moves.append(np.concatenate([(a - b).ravel() for a, b in zip(model.get_weights(), start)]))
    np.testing.assert_allclose(moves[1], 2 * moves[0], rtol=1e-3, atol=1e-7)


def test_cnn_partial_fit_is_one_step_scaled_by_online_lr(batch):
    X, y = batch
    moves = []
    for lr in (0.01, 0.02):
        model = CNN(n_classes=10, seed=1, online_lr=lr, dropout=0.0)  # no dropout: the step is deterministic
        start = model.get_weights()
        model.partial_fit(X, y)
        moves.append(np.concatenate([(a - b).ravel() for a, b in zip(model.get_weights(), start)]))
    np.testing.assert_allclose(moves[1], 2 * moves[0], rtol=1e-2, atol=1e-6)


def test_cnn_step_forward_is_the_keras_network(batch):
    """The forward pass a bfloat16 step differentiates is the served network's, layer for layer."""
    import tensorflow as tf

    model = CNN(n_classes=10, seed=1)
    model.partial_fit(*batch)  # not the initial weights only
    np.testing.assert_array_equal(model._logits(batch[0], tf.float32, training=False).numpy(),
                                  model.network(batch[0], training=False).numpy())


def test_cnn_bfloat16_step_is_the_float32_step_rounded(batch):
    """Mixed precision moves the float32 weights the way float32 does, to bfloat16's precision."""
    X, y = batch
    moves = {}
    for step_dtype in ("float32", "bfloat16"):
        model = cnn_learning_in(step_dtype, online_lr=0.05, dropout=0.0)
        start = model.get_weights()
        model.partial_fit(X, y)
        assert all(w.dtype == np.float32 for w in model.get_weights())
        moves[step_dtype] = np.concatenate([(a - b).ravel() for a, b in zip(model.get_weights(), start)])
    fp32, bf16 = moves["float32"], moves["bfloat16"]
    cosine = fp32 @ bf16 / np.linalg.norm(fp32) / np.linalg.norm(bf16)
    assert cosine > 0.99 and abs(np.linalg.norm(bf16) / np.linalg.norm(fp32) - 1) < 0.05, cosine


def test_cnn_step_dtype_is_how_it_learns_not_what_it_learned(batch):
    model = cnn_learning_in("bfloat16")
    assert model.to_bytes() == CNN(n_classes=10, seed=1).to_bytes()  # not in the archive: weights are float32 either way
    assert CNN.from_bytes(model.to_bytes()).step_dtype == "float32"
    with pytest.raises(ValueError, match="bfloat16"):
        model.step_dtype = "float16"


def test_to_bytes_round_trips_exactly(model, batch):
    X, y = batch
    model.partial_fit(X, y)
    data = model.to_bytes()
    assert not data.startswith(b"\x80")  # not a pickle
    clone = type(model).from_bytes(data)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict_proba(X), clone.predict_proba(X))
    assert clone.online_lr == model.online_lr
    assert clone.to_bytes() == data


def test_read_weights_matches_from_bytes(model):
    data = model.to_bytes()
    for a, b in zip(type(model).read_weights(data), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_cnn_activations_by_name(batch):
    maps = CNN(n_classes=10, seed=1).activations(batch[0][:2])
    assert {k: v.shape for k, v in maps.items()} == {
        "conv1": (2, 28, 28, 32), "pool1": (2, 14, 14, 32), "conv2": (2, 14, 14, 64), "pool2": (2, 7, 7, 64)}
    assert all(v.min() >= 0 for v in maps.values())  # ReLU outputs


@pytest.mark.parametrize("name", ["fnn", "cnn"])
def test_shipped_weights_meet_their_model_card(name):
    """The committed weights reproduce the accuracies recorded when they were trained."""
    card = json.loads((WEIGHTS_DIR / "training.json").read_text())[name]
    model = load_original(name, "digits")
    X, y = load_mnist("test")
    mnist = np.mean(model.predict_proba(X.astype(np.float32) / 255).argmax(1) == y)
    Xp, yp, _ = load_drawn_pendigits("test")
    pen = np.mean(model.predict_proba(Xp).argmax(1) == yp)
    # Within a few images: another CPU's kernels may round a borderline digit the other way.
    assert abs(float(mnist) - card["mnist_test_accuracy"]) <= 0.0005
    assert abs(float(pen) - card["pendigits_test_accuracy"]) <= 0.002
    assert (WEIGHTS_DIR / f"{name}-original.npz").stat().st_size < 5_000_000
