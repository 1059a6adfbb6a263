"""Zinnia: an independent, stroke-based Japanese character recogniser to compare with.

Zinnia (Taku Kudo, 2005-2009) is an online handwriting recogniser: it reads
pen strokes, in order, not images, and classifies them with an SVM over
stroke-direction features. Debian packages the command (``zinnia-utils``) and
Tegaki's Japanese model (``tegaki-zinnia-japanese``: kanji, kana and
symbols, several thousand classes)::

    apt-get install -y zinnia-utils tegaki-zinnia-japanese

It is a **peer, not ground truth**: it was trained on other people's
handwriting (its training data is not documented here), it knows thousands
of characters our models never choose between (an answer outside the 71
hiragana counts as wrong), and it sees strokes where our CNNs see 28x28
pixels. Its accuracy on our synthetic drawings says how readable they are to
a recogniser that never saw our variation model, not what the right answer
is. Debian's model (Tegaki 0.3, 2009) also has no dakuten or handakuten
kana at all (が...ぽ, 25 of our 71 classes, see :func:`zinnia_unknown`): it
answers the plain kana for them, so its ceiling on the 71 classes is 46/71.
:func:`zinnia_top1` runs every drawing through one ``zinnia`` process
call, one S-expression per line in a 300x300 box, e.g.

>>> to_sexp([np.array([[0.0, 0.0], [140.0, 280.0]])])
'(character (width 300)(height 300)(strokes ((0 0)(150 300))))'
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ZINNIA_MODEL = Path("/usr/share/tegaki/models/zinnia/handwriting-ja.model")
INSTALL_COMMAND = "apt-get install -y zinnia-utils tegaki-zinnia-japanese"
BOX = 300


def zinnia_available() -> bool:
    """Whether the ``zinnia`` command and the Japanese model are installed."""
    return shutil.which("zinnia") is not None and ZINNIA_MODEL.is_file()


def zinnia_unknown(glyphs: Sequence[str]) -> list[str]:
    """The ``glyphs`` the Japanese model has no class for (it can never answer them).

    A Zinnia model stores each class as its UTF-8 character NUL-padded to 16 bytes.
    """
    data = ZINNIA_MODEL.read_bytes()
    return [g for g in glyphs if g.encode().ljust(16, b"\0") not in data]


def to_sexp(strokes: Sequence[np.ndarray], source_size: float = 280.0) -> str:
    """One drawing (strokes of (x, y) points in a ``source_size`` square, y down) as Zinnia's S-expression,
    scaled to its 300x300 box and rounded to whole units."""
    parts = []
    for stroke in strokes:
        pts = np.rint(np.asarray(stroke, dtype=float).reshape(-1, 2) * (BOX / source_size))
        pts = np.clip(pts, 0, BOX).astype(int)
        if len(pts):
            parts.append("(" + "".join(f"({x} {y})" for x, y in pts) + ")")
    if not parts:
        raise ValueError("a drawing needs at least one stroke with a point")
    return f"(character (width {BOX})(height {BOX})(strokes {''.join(parts)}))"


def zinnia_answers(strokes_list: Sequence[Sequence[np.ndarray]], source_size: float = 280.0) -> list[str]:
    """Zinnia's best guess (a character) for each drawing, from one process call."""
    if not zinnia_available():
        raise FileNotFoundError(f"Zinnia is not installed. Run `{INSTALL_COMMAND}` (as root).")
    if not strokes_list:
        return []
    lines = "\n".join(to_sexp(s, source_size) for s in strokes_list) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        result = subprocess.run(
            ["zinnia", "-m", str(ZINNIA_MODEL), "-n", "1", f.name],
            capture_output=True, text=True, encoding="utf-8", timeout=600, check=False,
        )
    # Output: "Answer: " on a line, then "<char> <score>" per n-best result, for each input line.
    blocks = re.split(r"^Answer:[^\n]*\n", result.stdout, flags=re.MULTILINE)[1:]
    answers = [block.split()[0] if block.split() else "" for block in blocks]
    if result.returncode != 0 or len(answers) != len(strokes_list):
        raise RuntimeError(
            f"zinnia answered {len(answers)} of {len(strokes_list)} drawings (exit {result.returncode}): "
            f"{result.stderr.strip()[:300]}"
        )
    return answers


def zinnia_top1(
    strokes_list: Sequence[Sequence[np.ndarray]], labels: Sequence[int], glyphs: Sequence[str],
    source_size: float = 280.0,
) -> tuple[float, list[str]]:
    """``(top-1 accuracy, Zinnia's answers)`` on drawings whose true classes are ``glyphs[labels[i]]``.

    Strokes are canvas pixels (``source_size`` square, 280 for the page's canvas). An answer that is
    not one of ``glyphs`` (a kanji, katakana, a symbol) counts as wrong.
    """
    answers = zinnia_answers(strokes_list, source_size)
    if len(answers) != len(labels):
        raise ValueError(f"{len(strokes_list)} drawings but {len(labels)} labels")
    known = set(glyphs)
    correct = sum(a in known and a == glyphs[int(y)] for a, y in zip(answers, labels))
    return (correct / len(answers) if answers else float("nan")), answers
