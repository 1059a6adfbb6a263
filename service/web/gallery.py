"""Which stored drawings a request may see: to anyone, those given with consent that are in the collection
(not held for review, not discarded: :mod:`service.core.curation`); to the admin, all of them. And the
cursors that page through them."""

from __future__ import annotations

import base64
import binascii

from ..core.curation import ReviewStore, state_of
from ..core.storage import CorruptObject, DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import DRAWING_ID_RE, check_drawing_id

PAGE_READS = 10  # store pages read at most to fill one page of consented drawings
REVIEWS_MAX_AGE_S = 5.0  # a review made on another worker shows in the gallery within this


def encode_cursor(drawing_id: str | None) -> str | None:
    """What a client is handed to ask for the next page: opaque to it (it names the last drawing it was shown)."""
    return base64.urlsafe_b64encode(drawing_id.encode("ascii")).decode("ascii").rstrip("=") if drawing_id else None


def decode_cursor(cursor: str | None) -> str | None:
    """The drawing a cursor names; ValueError for anything this service did not give out.

    >>> decode_cursor(encode_cursor("20261130T120000000Z-0123456789"))
    '20261130T120000000Z-0123456789'
    """
    if cursor is None:
        return None
    try:
        drawing_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("invalid cursor") from None
    if not DRAWING_ID_RE.match(drawing_id):
        raise ValueError("invalid cursor")
    return drawing_id


def in_collection(record: DrawingRecord, reviews: ReviewStore) -> bool:
    """Given with consent, and neither held for review nor discarded."""
    return record.train and state_of(record, reviews.of(record.id)).learnable


def visible_page(drawings: DrawingStore, reviews: ReviewStore, label: int | None, limit: int, cursor: str | None,
                 private: bool = False) -> tuple[list[DrawingRecord], str | None]:
    """A page of stored drawings, newest first: those in the collection, or with ``private`` all; and the
    cursor of the next page (None: no more).

    Drawings sent with ``train: false`` were given to be recognised, not to be
    shown to others. The store's index knows which they are, so a public page
    reads no private record (but those stored before it knew: each is read once
    per process). The cursor handed out names a drawing read for this page (or is
    the one given): never a private drawing, whose existence and time are nobody's
    business. Drawings held for review or discarded are skipped as they are read.
    """
    start = decode_cursor(cursor)
    if private:
        records, next_id = drawings.list(label, limit, start)
        return records, encode_cursor(next_id)
    reviews.refresh(max_age_s=REVIEWS_MAX_AGE_S)
    shown: list[DrawingRecord] = []
    next_id = last_read = start
    for _ in range(PAGE_READS):
        more, next_id = drawings.list(label, limit - len(shown), next_id, public=True)
        last_read = more[-1].id if more else last_read
        shown += [r for r in more if in_collection(r, reviews)]
        if len(shown) >= limit or next_id is None:
            break
    if next_id is not None:
        next_id = shown[-1].id if len(shown) >= limit else last_read
    return shown, encode_cursor(next_id)


def visible_drawing(drawings: DrawingStore, reviews: ReviewStore, drawing_id: str,
                    private: bool = False) -> DrawingRecord:
    """A stored drawing's record; one not in the collection, or whose record cannot be read, is NotFound
    (the first unless ``private``: the admin)."""
    check_drawing_id(drawing_id)
    try:
        record = drawings.get(drawing_id)
    except CorruptObject as exc:
        drawings.skip_corrupt(drawing_id, exc)
        raise NotFound(f"no readable drawing {drawing_id}") from None
    if not private:
        reviews.refresh(max_age_s=REVIEWS_MAX_AGE_S)
        if not in_collection(record, reviews):
            raise NotFound(f"no drawing {drawing_id}")
    return record
