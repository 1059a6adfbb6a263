"""Synthetic hiragana: KanjiVG templates, the writer variation model, rendering, and the Zinnia peer."""

from __future__ import annotations

import numpy as np
import pytest

from lab.kana import (
    HIRAGANA,
    HIRAGANA_CANVAS,
    HIRAGANA_ROWS,
    TRAIN_RANGES,
    UNSEEN_RANGES,
    WriterStyle,
    clean_drawing,
    draw,
    drawn_strokes,
    hiragana_box,
    load_drawn_hiragana,
    load_strokes,
    parse_svg_path,
    render_kana,
    synthetic_writers,
    vary,
    write_stroke_guide,
)
from lab.zinnia import zinnia_available, zinnia_top1
from models.preprocess import preprocess_drawing


def test_71_distinct_hiragana_in_table_order_all_with_strokes():
    assert len(HIRAGANA) == 71 and len(set(HIRAGANA)) == 71
    assert all(0x3041 <= ord(c) <= 0x3096 for c in HIRAGANA)
    assert "".join(HIRAGANA[:5]) == "あいうえお" and HIRAGANA[45] == "ん" and HIRAGANA[46] == "が"
    cells = [i for row in HIRAGANA_ROWS for i in row if i is not None]
    assert sorted(cells) == list(range(71)) and cells == list(range(71))  # every label once, in order
    assert all(len(row) == 5 for row in HIRAGANA_ROWS)
    assert [HIRAGANA[i] if i is not None else None for i in HIRAGANA_ROWS[9]] == ["わ", None, None, None, "を"]
    for char in HIRAGANA:
        strokes = load_strokes(char)
        assert strokes and all(s.ndim == 2 and s.shape[1] == 2 and len(s) >= 2 for s in strokes), char
        points = np.concatenate(strokes)
        assert points.min() >= 0 and points.max() <= 109, char
        gaps = np.concatenate([np.linalg.norm(np.diff(s, axis=0), axis=1) for s in strokes])
        assert gaps.max() < 3.0, char  # densely sampled


def test_known_stroke_counts():
    counts = {c: len(load_strokes(c)) for c in "あいうぬはぱばん"}
    assert counts == {"あ": 3, "い": 2, "う": 2, "ぬ": 2, "は": 3, "ぱ": 4, "ば": 5, "ん": 1}
    # ぱ is は's strokes plus the handakuten circle, which is small, closed, and top right.
    circle = load_strokes("ぱ")[-1]
    assert np.linalg.norm(circle[0] - circle[-1]) < 1.0
    assert np.ptp(circle, axis=0).max() < 20 and circle[:, 0].mean() > 75 and circle[:, 1].mean() < 35


def test_svg_path_parser_handles_the_syntax():
    # absolute and relative, implicit repeats, packed numbers, S reflection, H/V, Z
    (line,) = parse_svg_path("M0,0l4-0.5.5 10", step=100)
    assert np.allclose(line, [[0, 0], [4, -0.5], [4.5, 9.5]])
    (curve,) = parse_svg_path("m10 10c0 10 10 10 10 0s10-10 10 0")
    assert np.allclose(curve[-1], [30, 10]) and curve[:, 1].max() == pytest.approx(17.5, abs=0.1)
    assert curve[:, 1].min() == pytest.approx(2.5, abs=0.1)  # the reflected control point bends it up
    (box,) = parse_svg_path("M0 0H10V10h-10z")
    assert np.allclose(box[-1], [0, 0]) and np.allclose(box.max(axis=0), [10, 10])
    assert len(parse_svg_path("M0 0L1 1M5 5L6 6")) == 2
    with pytest.raises(ValueError):
        parse_svg_path("0 0 L 1 1")


def test_vary_is_deterministic_per_seed_and_differs_across_seeds():
    strokes = load_strokes("あ")
    style = WriterStyle.sample(np.random.default_rng(3))
    a = vary(strokes, style, np.random.default_rng(7))
    b = vary(strokes, style, np.random.default_rng(7))
    c = vary(strokes, style, np.random.default_rng(8))
    assert len(a) == len(c) == 3 and all(len(s) == len(t) for s, t in zip(a, strokes))
    assert all(np.array_equal(s, t) for s, t in zip(a, b))
    assert not all(np.allclose(s, t, atol=1.0) for s, t in zip(a, c))
    # and through the writer plan: the same writer, label and repetition is the same drawing
    writer = synthetic_writers("train", 1)[0]
    assert all(np.array_equal(s, t) for s, t in zip(draw(writer, 0, 1), draw(writer, 0, 1)))
    assert not np.allclose(draw(writer, 0, 0)[0][:5], draw(writer, 0, 1)[0][:5], atol=0.5)


def test_drawings_sit_on_the_canvas_like_people_draw():
    heights = []
    for seed, style in synthetic_writers("train", 8):
        for label in (0, 20, 45):
            points = np.concatenate(draw((seed, style), label))
            assert points.min() >= 0 and points.max() <= HIRAGANA_CANVAS.size
            heights.append(np.ptp(points[:, 1]) / HIRAGANA_CANVAS.size)
    assert 0.55 < np.median(heights) < 0.8


def test_writer_splits_are_disjoint_and_unseen_styles_are_outside_training_ranges():
    train = synthetic_writers("train", 50)
    test = synthetic_writers("test", 50)
    unseen = synthetic_writers("unseen", 50)
    ids = [w for split in (train, test, unseen) for w, _ in split]
    assert len(set(ids)) == 150 and max(w for w, _ in train) < 10_000
    assert min(w for w, _ in test) >= 100_000 and min(w for w, _ in unseen) >= 200_000
    for _, style in train + test:
        assert all(style.in_training_ranges().values()) and not style.unseen
    for _, style in unseen:
        assert style.unseen and not any(style.in_training_ranges().values()), style
        for name, intervals in UNSEEN_RANGES.items():
            assert any(lo <= getattr(style, name) <= hi for lo, hi in intervals), name
    # the out-of-range intervals really are outside the training ones
    for name, (lo, hi) in TRAIN_RANGES.items():
        assert all(b < lo or a > hi for a, b in UNSEEN_RANGES[name]), name
    assert synthetic_writers("test", 3) == synthetic_writers("test", 3)
    with pytest.raises(ValueError):
        synthetic_writers("validation", 1)


def test_rendered_drawings_preprocess_to_non_blank_images():
    for seed, style in synthetic_writers("unseen", 1) + synthetic_writers("test", 1):
        for label in (0, 25, 66):  # あ, は, ぱ
            image = preprocess_drawing(render_kana(draw((seed, style), label), style.canvas()), hiragana_box())
            assert image.shape == (28, 28) and image.dtype == np.float32
            assert image.max() > 0.9 and 20 < (image > 0.5).sum() < 400


def test_load_drawn_hiragana_matches_strokes_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("INKLING_MNIST_DIR", str(tmp_path / "mnist"))
    images, labels, writers = load_drawn_hiragana("test", 2, per_writer=1)
    assert images.shape == (142, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == list(range(71)) * 2
    assert writers.dtype == np.int32 and writers.tolist() == [100_000] * 71 + [100_001] * 71
    assert len(list((tmp_path / "drawn").glob("hiragana-test-*.npz"))) == 1
    again = load_drawn_hiragana("test", 2, per_writer=1)
    assert all(np.array_equal(a, b) for a, b in zip((images, labels, writers), again))
    mnist_box = load_drawn_hiragana("test", 2, per_writer=1, box=20)[0]  # another box is another cache
    assert len(list((tmp_path / "drawn").glob("hiragana-test-*.npz"))) == 2
    assert (images > 0.1).sum() > 1.3 * (mnist_box > 0.1).sum()  # (26/20)^2 = 1.69 the area, thinner pens
    strokes, s_labels, s_writers = drawn_strokes("test", 2, per_writer=1)
    assert np.array_equal(s_labels, labels) and np.array_equal(s_writers, writers)
    style = synthetic_writers("test", 2)[1][1]
    for i in (0, 100, 141):
        assert np.array_equal(preprocess_drawing(render_kana(strokes[i], style.canvas() if i >= 71 else
                                                             synthetic_writers("test", 1)[0][1].canvas()),
                                                 hiragana_box()),  # what the shipped weights read
                              images[i])


def test_process_pool_gives_the_same_images(tmp_path, monkeypatch):
    monkeypatch.setenv("INKLING_MNIST_DIR", str(tmp_path / "mnist"))
    serial = load_drawn_hiragana("unseen", 2, cache=False, processes=1)
    pooled = load_drawn_hiragana("unseen", 2, cache=False, processes=2)
    assert all(np.array_equal(a, b) for a, b in zip(serial, pooled))
    assert not (tmp_path / "drawn").exists()


@pytest.mark.skipif(not zinnia_available(), reason="zinnia not installed (apt-get install zinnia-utils tegaki-zinnia-japanese)")
def test_zinnia_reads_clean_renderings():
    chars = "あいう"
    drawings = [clean_drawing(c) for c in chars] * 2
    labels = [HIRAGANA.index(c) for c in chars] * 2
    accuracy, answers = zinnia_top1(drawings, labels, HIRAGANA)
    assert answers == list(chars) * 2 and accuracy == 1.0
    # an answer outside the glyphs counts as wrong
    accuracy, _ = zinnia_top1(drawings[:1], [0], ["x"] + list(HIRAGANA[1:]))
    assert accuracy == 0.0


def test_missing_kanjivg_names_the_install_command(monkeypatch):
    from lab import kana
    from lab.data import MissingDataError

    monkeypatch.setattr(kana, "KANJIVG_DIST", "kanjivg-not-installed-here")
    kana._kanji_dir.cache_clear()
    try:
        with pytest.raises(MissingDataError, match=r"pip install kanjivg==20260714"):
            kana._svg_path("あ")
    finally:
        kana._kanji_dir.cache_clear()


def test_the_shipped_stroke_guide_is_kanjivgs(tmp_path):
    """``strokes.json`` (the page's stroke-order guide) is what ``write_stroke_guide`` makes from the installed
    KanjiVG, and each glyph's paths are the strokes the synthetic writers draw."""
    from models.alphabets import load_alphabet

    write_stroke_guide(tmp_path / "strokes.json")
    shipped = load_alphabet("hiragana").strokes
    assert (tmp_path / "strokes.json").read_text(encoding="utf-8") == \
        (load_alphabet("hiragana").weights["cnn"].parent / "strokes.json").read_text(encoding="utf-8")
    for label in (0, 25, 66):  # あ, は, ぱ
        assert [len(s) for p in shipped["paths"][label] for s in parse_svg_path(p)] == \
            [len(s) for s in load_strokes(HIRAGANA[label])]
