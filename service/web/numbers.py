"""Saving a corrected number: the number whole (for a future sequence model), then each of its characters as a
labelled drawing of its own, through the one path every drawing takes (:func:`service.web.collect.collect_drawing`):
suspicion and quarantine, the writer's memory, the learn queue, export. So a digit of a number is learned exactly
once, as a single drawing is, and nothing downstream needs to know that it came from a number, except its record
(``number``: the number's id).

Each character's drawing is cut from the pad (its own strokes' ink only, when the strokes were sent; else the ink
in its box) and placed in the middle of a single canvas (``GET /api/config``'s ``canvas``), as if it had been
drawn there; its strokes are moved with it, and their time counts from its first point. Decimal points and minus
signs are kept in the number only: they are not characters of the alphabet.

Order: the pad's PNG and strokes, then each drawing, then the number's record last (its commit marker). A store
that fails midway leaves the drawings stored so far as single drawings, each naming a number that never was.
"""

from __future__ import annotations

import math

import numpy as np
from fastapi.concurrency import run_in_threadpool

from models.canvas import PadSpec
from models.preprocess import MIN_INK_PIXELS, ink_png
from models.segment import Box, cut, stroke_boxes, stroke_labels
from models.strokes import check_strokes, strokes_bytes

from ..core.numbers import NumberRecord
from ..core.storage import new_drawing_id
from ..core.storage.ids import utc_iso
from .collect import collect_drawing
from .errors import ApiError
from .reader import SYMBOLS, on_pad, pad_ink
from .runtime import WebRuntime

GLYPH_OF_SYMBOL = {glyph: kind for kind, glyph in SYMBOLS.items()}


def _invalid(why: str) -> ApiError:
    return ApiError(422, "invalid_number", f"Invalid number: {why}.")


def check_characters(characters: list[dict], strokes: list | None, pad: PadSpec, alphabet) -> None:
    """Each character names exactly one of ``label`` (of the alphabet) or ``symbol``, and where it is: its
    ``strokes`` (indices into the number's strokes, each used once) or, without strokes, its ``box``."""
    used: set[int] = set()
    if not any(c.get("label") is not None for c in characters):
        raise _invalid("give at least one character a label of the alphabet (a number of only points and minus "
                       "signs teaches nothing)")
    for k, c in enumerate(characters, start=1):
        if (c.get("label") is None) == (c.get("symbol") is None):
            raise _invalid(f"character {k} needs exactly one of label (0-{alphabet.n_classes - 1}) or symbol "
                           f"({' or '.join(GLYPH_OF_SYMBOL)})")
        if c.get("label") is not None and not 0 <= c["label"] < alphabet.n_classes:
            raise _invalid(f"character {k}'s label must be 0-{alphabet.n_classes - 1} ({alphabet.title})")
        if c.get("strokes"):
            if strokes is None:
                raise _invalid(f"character {k} names strokes, but the number was sent without strokes")
            bad = [i for i in c["strokes"] if not 0 <= i < len(strokes)]
            if bad:
                raise _invalid(f"character {k} names stroke {bad[0]}; there are {len(strokes)} (0-{len(strokes) - 1})")
            again = used & set(c["strokes"])
            if again:
                raise _invalid(f"stroke {min(again)} belongs to two characters")
            used |= set(c["strokes"])
        elif c.get("box") is not None:
            x0, y0, x1, y1 = c["box"]
            if not (0 <= x0 < x1 <= pad.width and 0 <= y0 < y1 <= pad.height):
                raise _invalid(f"character {k}'s box must be [x0, y0, x1, y1] within the pad (0-{pad.width}, "
                               f"0-{pad.height}) with x0 < x1 and y0 < y1")
        else:
            raise _invalid(f"character {k} needs its strokes (indices) or, without strokes, its box")


def cut_drawing(ink: np.ndarray, scale: tuple[float, float], strokes: list | None, labels: np.ndarray | None,
                character: dict, pad: PadSpec, canvas_size: int, max_bytes: int,
                index: int = 0) -> tuple[bytes, list | None]:
    """One character as a single drawing: its PNG (its ink in the middle of a ``canvas_size`` canvas, shrunk
    only if it would not fit) and its strokes moved with it (None without strokes). ``index``: its place in the
    number, for the message when it holds no ink (422 before anything is stored)."""
    sx, sy = scale
    parts = tuple(character.get("strokes") or ())
    if parts:
        boxes = stroke_boxes([strokes[i] for i in parts], pad.line_width, scale)
        box = boxes[0]
        for b in boxes[1:]:
            box = box.union(b)
        crop = cut(ink, box, labels, parts)
    else:
        x0, y0, x1, y1 = character["box"]
        box = Box(x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        crop = cut(ink, box)
    x0, y0 = max(0.0, math.floor(box.x0)), max(0.0, math.floor(box.y0))  # where the crop starts, ink pixels
    h, w = crop.shape
    fit = min(1.0, (canvas_size - 2) / max(h / sy, w / sx, 1))  # pad pixels to canvas pixels, never enlarged
    if fit < 1.0 or (sx, sy) != (1.0, 1.0):
        from PIL import Image

        size = (max(1, round(w / sx * fit)), max(1, round(h / sy * fit)))
        crop = np.asarray(Image.fromarray(crop.astype(np.float32), "F").resize(size, Image.Resampling.BOX))
        h, w = crop.shape
    canvas = np.zeros((canvas_size, canvas_size), np.float32)
    top, left = (canvas_size - h) // 2, (canvas_size - w) // 2
    canvas[top:top + h, left:left + w] = np.clip(crop, 0, 1)
    if canvas.sum() < MIN_INK_PIXELS:
        where = "strokes" if parts else "box"
        raise _invalid(f"character {index + 1}'s {where} hold no ink on the pad; send the boxes or strokes "
                       "POST /api/read gave")
    png = ink_png(canvas, max_side=2 * canvas_size, max_bytes=max_bytes)
    if not parts:
        return png, None
    t0 = strokes[parts[0]][2][0]
    moved = []
    for i in parts:
        xs, ys, ts = strokes[i]
        moved.append([[round((x - x0 / sx) * fit + left, 2) for x in xs],
                      [round((y - y0 / sy) * fit + top, 2) for y in ys], [t - t0 for t in ts]])
    return png, moved


async def collect_number(runtime: WebRuntime, png: bytes, strokes: list | None, characters: list[dict],
                         train: bool, client: str, writer: str | None, wait: bool, pad: PadSpec) -> dict:
    """Store the number and each of its characters; returns the body of a ``POST /api/numbers`` response."""
    alphabet = runtime.alphabet
    strokes = on_pad(check_strokes(strokes), pad) if strokes is not None else None
    check_characters(characters, strokes, pad, alphabet)
    ink, scale = await runtime.infer(pad_ink, png, pad)
    labels = (await runtime.infer(stroke_labels, strokes, ink.shape, pad.line_width, scale)
              if strokes is not None else None)
    number_id = new_drawing_id()
    cuts = []
    for k, c in enumerate(characters):  # every one cut before anything is stored: a bad one stores nothing
        if c.get("label") is not None:
            cuts.append(await runtime.infer(cut_drawing, ink, scale, strokes, labels, c, pad, alphabet.canvas.size,
                                            runtime.settings.max_stored_drawing_bytes, k))
        else:
            cuts.append(None)
    pad_png = ink_png(ink, max_side=max(pad.width, pad.height), max_bytes=4 * runtime.settings.max_stored_drawing_bytes)
    await run_in_threadpool(runtime.numbers.put_pixels, number_id, pad_png,
                            strokes_bytes(strokes) if strokes is not None else None)
    drawings, stored, last_queued = [], [], None
    for c, made in zip(characters, cuts):
        glyph = alphabet.glyph(c["label"]) if c.get("label") is not None else c["symbol"]
        entry = {"glyph": glyph, "label": c.get("label"), "drawing": None, "box": c.get("box"),
                 "strokes": list(c.get("strokes") or [])}
        if made is not None:
            char_png, char_strokes = made
            result = await collect_drawing(runtime, char_png, c["label"], train, client, wait=False, writer=writer,
                                           strokes=char_strokes, number=number_id)
            entry["drawing"] = result["id"]
            drawings.append({"id": result["id"], "label": c["label"], "glyph": glyph, "queued": result["queued"],
                             "png_url": f"/api/drawings/{result['id']}.png"})
            if result["queued"]:
                last_queued = result["id"]
        stored.append(entry)
    text = "".join(e["glyph"] for e in stored)
    record = NumberRecord(number_id, utc_iso(), text, train, stored, strokes is not None,
                          {"width": pad.width, "height": pad.height, "line_width": pad.line_width})
    await run_in_threadpool(runtime.numbers.put, record)
    learned = None
    if wait and last_queued is not None:  # the learner learns in order: the last one learned, all were
        learned = await runtime.follower.wait(last_queued, runtime.settings.wait_seconds)
    detail = ("Thanks, saved." if not train or learned or last_queued is None
              else "Saved. The models are learning from each of its characters.")
    return {"id": number_id, "text": text, "stored": True, "drawings": drawings, "learned": learned, "detail": detail}

