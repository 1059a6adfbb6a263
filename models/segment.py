"""Where the characters of a number are on the pad: grouping pen strokes (or, from a PNG alone, connected
components of ink) into characters, telling a decimal point and a minus sign by their shape, and cutting
each character out as the single canvas would have had it.

Both inputs become *parts* (a stroke, or a component) with an ink box; :func:`group_parts` joins parts into
characters by how much they overlap in x, measured against the narrower part, so that a two-stroke 4 or 5 (its
strokes overlap almost wholly), a bar added late over an earlier 7 (it lies over it) stay one character,
while neighbours that merely touch (a sliver of overlap) do not. What the order or the time of strokes says
is not used: a person adds the bar of a 5 or corrects an earlier digit whenever they like, and time would
only confirm what x already shows (docs/numbers.md measures the grouping against the digits' own strokes).
Sizes are measured against the *line height* (the taller parts' height): a part much smaller than it is a
dot, one much flatter is a bar. A dot that no character encloses, low on the line, is a decimal point; a flat
part over no other, at mid-height, is a minus sign.

A group wider than one character can be (:data:`WIDE`, against the line height) may be two that touch: from
strokes, the cuts between its strokes in x order; from ink, the columns where its ink is thinnest
(:func:`cut_columns`). Which reading wins is the recogniser's to say (``service/web/reader.py``): the split
whose pieces the models read most confidently, or none.

Everything here is numpy and Pillow (web workers have no scipy): the components are found on runs of
ink a row (:func:`components`), a few hundred for a pad, joined by union-find.

>>> strokes = [[[10, 10], [20, 200], [0, 100]], [[300, 380, 310], [20, 20, 200], [500, 600, 700]]]
>>> [(p.parts, p.kind) for p in group_strokes(strokes, line_width=24)]
[((0,), 'character'), ((1,), 'character')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# All measured against the line height (the 75th percentile of the parts' ink heights): tuned on numbers made
# from the pendigits *training* writers (lab/numbers.py); docs/numbers.md has the figures.
OVERLAP = 0.5  # two parts are one character when they overlap in x by this much of the narrower one's width
SMALL = 0.3  # a part whose ink is smaller than this every way is a dot
FLAT = 0.3  # ... whose ink is flatter than this (and wider) is a bar: part of a 5, a 7, a 4, or a minus
NARROW = 0.3  # ... the narrower's width taken as at least this: a 1 leaning on a neighbour is not part of it
WIDE = 1.15  # a group of strokes wider than this may be two characters touching
WIDE_INK = 0.8  # ... a component of ink (two touching 0s are one; its thinnest columns are offered as cuts)
POINT_BELOW = 0.6  # a dot whose centre is below this fraction of the line (from its top) is a decimal point
MINUS_BAND = (0.2, 0.8)  # a lone bar whose centre lies in this band of the line is a minus sign
KINDS = ("character", "point", "minus")


@dataclass(frozen=True)
class Box:
    """The ink of one part (a stroke with its pen, or a component) in pad pixels, edges inclusive-exclusive."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    def union(self, other: "Box") -> "Box":
        return Box(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1), max(self.y1, other.y1))

    def as_list(self) -> list[int]:
        return [int(np.floor(self.x0)), int(np.floor(self.y0)), int(np.ceil(self.x1)), int(np.ceil(self.y1))]


@dataclass(frozen=True)
class Piece:
    """One character's place on the pad: the parts it is made of (stroke indices, or component ids), its ink
    box, and its kind: ``character`` (read by the models), ``point`` or ``minus`` (told by their shape)."""

    parts: tuple[int, ...]
    box: Box
    kind: str = "character"


def _union_box(boxes: list[Box], idx) -> Box:
    out = boxes[idx[0]]
    for i in idx[1:]:
        out = out.union(boxes[i])
    return out


def line_height(boxes: list[Box], line_width: float) -> float:
    """How tall the characters are written: the 75th percentile of the parts' ink heights (most parts are a
    whole character's height; bars and dots are the few), at least twice the pen."""
    return max(float(np.percentile([b.h for b in boxes], 75)), 2.0 * line_width)


def x_overlap(a: Box, b: Box, floor: float = 0.0) -> float:
    """How much ``a`` and ``b`` overlap in x, as a fraction of the narrower one's width, or of ``floor`` if that
    is wider (0 when apart)."""
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) / max(min(a.w, b.w), floor, 1e-6)


def inside(a: Box, b: Box, inset: float) -> bool:
    """The narrower one's centre lies over the wider one, ``inset`` in from its edges (an upright crossing a bar)."""
    narrow, wide = (a, b) if a.w <= b.w else (b, a)
    return wide.x0 + inset <= narrow.cx <= wide.x1 - inset


def root_finder(parent: list[int]):
    """Union-find's find over ``parent`` (halving the path as it goes): join sets with
    ``parent[find(a)] = find(b)``.

    >>> parent = [0, 1, 2, 3]
    >>> find = root_finder(parent)
    >>> parent[find(3)] = find(1); parent[find(1)] = find(0)
    >>> [find(i) for i in range(4)]
    [0, 0, 2, 0]
    """
    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    return find


def group_parts(boxes: list[Box], line_width: float) -> list[Piece]:
    """Parts (by their ink boxes) grouped into characters, left to right; see the module's docstring."""
    if not boxes:
        return []
    n, height = len(boxes), line_height(boxes, line_width)
    small = [max(b.w, b.h) < SMALL * height for b in boxes]
    parent = list(range(n))

    find = root_finder(parent)

    body = [i for i in range(n) if not small[i]]
    for k, i in enumerate(body):
        for j in body[k + 1:]:
            overlap = x_overlap(boxes[i], boxes[j], floor=NARROW * height)
            if overlap >= OVERLAP or inside(boxes[i], boxes[j], line_width / 2):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in body:
        groups.setdefault(find(i), []).append(i)
    pieces = [[sorted(g), _union_box(boxes, sorted(g))] for g in groups.values()]
    # The line: where the characters' tops and bottoms are (the median of the groups'), for dots and bars.
    if pieces:
        top = float(np.median([b.y0 for _, b in pieces]))
        bottom = max(float(np.median([b.y1 for _, b in pieces])), top + 1)
    else:
        top, bottom = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
    loose = []
    inset = line_width / 2
    for i in (i for i in range(n) if small[i]):  # a dot over or under a character is part of it (a serif, a tap)
        b = boxes[i]
        home = [p for p in pieces if p[1].x0 + inset <= b.cx <= p[1].x1 - inset]
        if home:
            home[0][0] = sorted([*home[0][0], i])
            home[0][1] = home[0][1].union(b)
        else:
            loose.append(i)
    out = [Piece(tuple(parts), box, _kind(boxes, parts, box, height, top, bottom)) for parts, box in pieces]
    for i in loose:  # dots: a decimal point low on the line; elsewhere a character (a tiny 0, say) to read
        b = boxes[i]
        out.append(Piece((i,), b, "point" if (b.cy - top) / (bottom - top) >= POINT_BELOW else "character"))
    return sorted(out, key=lambda p: p.box.cx)


def _kind(boxes: list[Box], parts: list[int], box: Box, height: float, top: float, bottom: float) -> str:
    if len(parts) == 1 and box.h < FLAT * height and box.w >= SMALL * height:
        where = (box.cy - top) / (bottom - top)
        if MINUS_BAND[0] <= where <= MINUS_BAND[1]:
            return "minus"
    return "character"


def is_wide(piece: Piece, height: float, wide: float | None = None) -> bool:
    """Wider than one character can be (``wide`` times the line height; default :data:`WIDE`): perhaps two that
    touch."""
    return piece.kind == "character" and piece.box.w > (WIDE if wide is None else wide) * height


# --- strokes ------------------------------------------------------------------------------------------------


def stroke_boxes(strokes: list, line_width: float, scale: tuple[float, float] = (1.0, 1.0)) -> list[Box]:
    """Each stroke's ink box: its points' extent and the pen around them (``scale``: pad to ink pixels)."""
    r, (sx, sy) = line_width / 2, scale
    boxes = []
    for xs, ys, *_ in strokes:
        x, y = np.asarray(xs, np.float64) * sx, np.asarray(ys, np.float64) * sy
        boxes.append(Box(x.min() - r * sx, y.min() - r * sy, x.max() + r * sx, y.max() + r * sy))
    return boxes


def group_strokes(strokes: list, line_width: float) -> list[Piece]:
    """Strokes (``[[x...], [y...], [t...]]`` each, pad pixels) grouped into characters, left to right."""
    return group_parts(stroke_boxes(strokes, line_width), line_width)


def stroke_splits(piece: Piece, boxes: list[Box], limit: int = 3) -> list[tuple[Piece, Piece]]:
    """Ways to read a wide group of strokes as two characters: cut between its strokes in x order (by their
    centres), the ``limit`` cuts with the widest gaps between the two sides' centres first."""
    order = sorted(piece.parts, key=lambda i: boxes[i].cx)
    cuts = []
    for k in range(1, len(order)):
        left, right = order[:k], order[k:]
        gap = min(boxes[i].cx for i in right) - max(boxes[i].cx for i in left)
        cuts.append((gap, tuple(sorted(left)), tuple(sorted(right))))
    cuts.sort(key=lambda c: -c[0])
    return [(Piece(a, _union_box(boxes, list(a))), Piece(b, _union_box(boxes, list(b)))) for _, a, b in cuts[:limit]]


# --- ink: components and cuts ---------------------------------------------------------------------------------


def components(mask: np.ndarray) -> tuple[np.ndarray, list[Box]]:
    """8-connected components of a boolean image: (int32 labels, 0 background and 1..n, and each one's box).

    Found on runs (a row's stretches of ink), joined by union-find with the runs of the row above that touch
    them: a few hundred runs for a pad, where a flood fill would visit every pixel in Python.

    >>> labels, boxes = components(np.array([[1, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]], bool))
    >>> labels.tolist(), [b.as_list() for b in boxes]
    ([[1, 0, 0, 2], [1, 0, 2, 0], [0, 0, 0, 0], [3, 3, 0, 0]], [[0, 0, 1, 2], [2, 0, 4, 2], [0, 3, 2, 4]])
    """
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive; row-major order pairs each start with its end
    n = len(rows)
    labels = np.zeros((h, w), np.int32)
    if not n:
        return labels, []
    parent = list(range(n))

    find = root_finder(parent)

    row_start = np.searchsorted(rows, np.arange(h + 1))
    rows_l, starts_l, ends_l = rows.tolist(), starts.tolist(), ends.tolist()
    for r in range(1, h):
        a, a_end, b, b_end = row_start[r - 1], row_start[r], row_start[r], row_start[r + 1]
        while a < a_end and b < b_end:  # two sorted lists of runs: those that touch (diagonals too) join
            if starts_l[a] <= ends_l[b] and starts_l[b] <= ends_l[a]:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            if ends_l[a] < ends_l[b]:
                a += 1
            else:
                b += 1
    roots = [find(i) for i in range(n)]
    ids: dict[int, int] = {}
    spans: list[list[int]] = []
    for i in range(n):
        k = ids.setdefault(roots[i], len(ids) + 1)
        r, s, e = rows_l[i], starts_l[i], ends_l[i]
        labels[r, s:e] = k
        if k > len(spans):
            spans.append([s, r, e, r + 1])
        else:
            span = spans[k - 1]
            span[0], span[2], span[3] = min(span[0], s), max(span[2], e), r + 1
    return labels, [Box(*span) for span in spans]


def cut_columns(ink: np.ndarray, box: Box, limit: int = 3) -> list[int]:
    """Where a wide piece of ink may be two characters touching: the columns (pad x) in its middle half where
    its ink is thinnest (local minima of the column sums, the thinnest ``limit`` first)."""
    x0, x1 = int(box.x0), int(np.ceil(box.x1))
    profile = ink[int(box.y0):int(np.ceil(box.y1)), x0:x1].sum(axis=0)
    w = len(profile)
    lo, hi = max(1, w // 4), min(w - 1, 3 * w // 4)
    if hi - lo < 3:
        return []
    smooth = np.convolve(profile, np.ones(5) / 5, mode="same")
    middle = smooth[lo:hi]
    minima = [k for k in range(1, len(middle) - 1) if middle[k] <= middle[k - 1] and middle[k] <= middle[k + 1]]
    if not minima:
        minima = [int(np.argmin(middle))]
    minima.sort(key=lambda k: middle[k])
    chosen: list[int] = []
    for k in minima:  # minima a pen's width apart at least: the same valley is not offered twice
        if all(abs(k - c) > 8 for c in chosen):
            chosen.append(k)
        if len(chosen) == limit:
            break
    return [x0 + lo + k for k in chosen]


def split_box(box: Box, column: int) -> tuple[Box, Box]:
    return Box(box.x0, box.y0, column, box.y1), Box(column, box.y0, box.x1, box.y1)


# --- cutting a character out ---------------------------------------------------------------------------------


def stroke_labels(strokes: list, shape: tuple[int, int], line_width: float,
                  scale: tuple[float, float] = (1.0, 1.0), joints: bool = True) -> np.ndarray:
    """uint8[H,W]: which stroke (its index + 1; 0 none) drew each pixel of the pad's ink, each painted with a pen
    a little wider than the page's (anti-aliasing reaches past it), a later stroke on top where two cross.
    So a character cut from the pad keeps its own ink, not a neighbour's that reaches into its box, as
    :func:`components` labels do for a PNG alone. (At most 64 strokes: they fit in a byte.) Without ``joints``
    (rounded corners: most of the time this takes) a few pixels at the outside of sharp corners stay unlabelled:
    enough for reading a piece cut through a stroke, not for a drawing that is stored."""
    image = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(image)
    sx, sy = scale
    width = max(1, round((line_width + 4) * (sx + sy) / 2))
    r = width / 2
    for k, (xs, ys, *_) in enumerate(strokes, start=1):
        points = [(x * sx, y * sy) for x, y in zip(xs, ys)]
        if len(points) > 1:
            draw.line(points, fill=k, width=width, joint="curve" if joints else None)
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=k)
    return np.asarray(image)


def render_character(strokes: list, parts: tuple[int, ...], line_width: float, scale: float,
                     supersample: int = 2, joints: str = "disc") -> np.ndarray:
    """float32[H,W] ink of ``parts`` of ``strokes`` drawn anew, ``scale`` times their size on the pad, with a pen
    ``line_width`` wide, round caps and round joints as the page draws: a character written small on the pad drawn
    as it would have been on the single canvas (the pen as thick against it as on a single drawing).

    ``joints``: ``"disc"`` (a disc the pen's width at every point, as a canvas's round join is) or ``"pie"``
    (Pillow's ``joint="curve"``: a pie slice a pixel smaller at every point, and a gap line beside it). The pie
    slices were most of the time this took (3.5x the discs' for a pendigits digit, docs/numbers.md); the discs
    read as many numbers right."""
    points = [np.column_stack([strokes[i][0], strokes[i][1]]).astype(np.float64) for i in parts]
    lo = np.min([p.min(axis=0) for p in points], axis=0)
    hi = np.max([p.max(axis=0) for p in points], axis=0)
    r = line_width / 2
    size = np.ceil((hi - lo) * scale + 2 * r + 2).astype(int) * supersample
    image = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(image)
    core, ink = draw.draw, draw.draw.draw_ink(255)  # Pillow's drawing calls without their per-call overhead
    width = line_width * supersample
    h = width / 2
    for p in points:
        xy = [(float(x), float(y)) for x, y in ((p - lo) * scale + r + 1) * supersample]
        if len(xy) > 1:
            if joints == "pie":
                draw.line(xy, fill=255, width=max(1, int(round(width))), joint="curve")
            else:
                core.draw_lines(xy, ink, max(1, int(round(width))))
        ends = (xy[0], xy[-1]) if joints == "pie" else xy  # a disc at every point: the caps and the joints
        for x, y in ends:
            core.draw_ellipse((x - h, y - h, x + h, y + h), ink, 1)
    if supersample > 1:
        image = image.reduce(supersample)
    return np.asarray(image, np.float32) / 255


def cut(ink: np.ndarray, box: Box, labels: np.ndarray | None = None, parts: tuple[int, ...] = ()) -> np.ndarray:
    """The ink inside ``box`` and, with ``labels`` (part index + 1 a pixel), only the pixels of ``parts``: a
    character on its own, as fit_and_center reads it (it crops to the ink and centres it, so where the character
    sat on the pad does not matter, only its pixels and its pen)."""
    x0, y0 = max(0, int(np.floor(box.x0))), max(0, int(np.floor(box.y0)))
    x1, y1 = min(ink.shape[1], int(np.ceil(box.x1))), min(ink.shape[0], int(np.ceil(box.y1)))
    region = ink[y0:y1, x0:x1]
    if labels is None:
        return region.copy()
    return region * np.isin(labels[y0:y1, x0:x1], np.asarray(parts) + 1)
