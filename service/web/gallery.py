"""Which stored drawings a request may see: those given with consent, and to the admin all of them."""

from __future__ import annotations

from ..core.storage import DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import check_drawing_id

PAGE_READS = 10  # store pages read at most to fill one page of consented drawings


def visible_page(drawings: DrawingStore, label: int | None, limit: int, cursor: str | None,
                 private: bool = False) -> tuple[list[DrawingRecord], str | None]:
    """A page of stored drawings, newest first: those given with consent, or with ``private`` all.

    Drawings sent with ``train: false`` were given to be recognised, not to be
    shown to others; pages skip them and still come full while more exist
    (reading at most ``PAGE_READS`` pages of the store for one).
    """
    records, next_cursor = drawings.list(label, limit, cursor)
    if private:
        return records, next_cursor
    shown = [r for r in records if r.train]
    for _ in range(PAGE_READS - 1):
        if len(shown) >= limit or next_cursor is None:
            break
        more, next_cursor = drawings.list(label, limit, next_cursor)
        shown += [r for r in more if r.train]
    if len(shown) > limit:
        shown, next_cursor = shown[:limit], shown[limit - 1].id
    return shown, next_cursor


def visible_drawing(drawings: DrawingStore, drawing_id: str, private: bool = False) -> DrawingRecord:
    """A stored drawing's record; one sent without consent is NotFound unless ``private`` (the admin)."""
    record = drawings.get(check_drawing_id(drawing_id))
    if not record.train and not private:
        raise NotFound(f"no drawing {drawing_id}")
    return record
