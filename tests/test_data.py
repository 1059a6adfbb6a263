"""MNIST and pendigits loaders: the data every figure in this project rests on."""

import shutil

import numpy as np
import pytest

from lab.data import MissingDataError, load_mnist, load_pendigits
from lab.data import MNIST_FILES, default_mnist_dir

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("split,counts", [("train", TRAIN_COUNTS), ("test", TEST_COUNTS)])
def test_mnist_is_the_real_thing(split, counts):
    images, labels = load_mnist(split)
    assert images.shape == (sum(counts), 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == counts


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="train"):
        load_mnist("validation")


def test_missing_file_names_the_command(tmp_path):
    with pytest.raises(MissingDataError, match="scripts/fetch_mnist"):
        load_mnist("test", folder=tmp_path)


def test_corrupt_file_is_detected(tmp_path):
    for name in MNIST_FILES["test"]:
        shutil.copy(default_mnist_dir() / name, tmp_path / name)
    damaged = bytearray((tmp_path / MNIST_FILES["test"][0]).read_bytes())
    damaged[5000] ^= 0xFF
    (tmp_path / MNIST_FILES["test"][0]).write_bytes(bytes(damaged))
    with pytest.raises(MissingDataError, match="corrupt"):
        load_mnist("test", folder=tmp_path)


def test_pendigits_writers_and_orientation():
    test, train = load_pendigits("test"), load_pendigits("train")
    assert len(test) == 3498 and len(train) == 7494
    assert sorted({d.writer for d in test}) == list(range(1, 15))
    assert np.bincount([d.label for d in test], minlength=10).min() >= 335
    # y is flipped to grow downward: a "7" starts with its top bar, so its first point is high on the canvas.
    sevens = [d for d in test if d.label == 7][:50]
    first_y = np.array([d.strokes[0][0, 1] for d in sevens])
    centre_y = np.array([np.concatenate(d.strokes)[:, 1].mean() for d in sevens])
    assert np.mean(first_y < centre_y) > 0.9
