"""Which stored drawings a request may see: to anyone, those given with consent that are in the collection
(not held for review, not discarded: :mod:`service.core.curation`); to the admin, all of them."""

from __future__ import annotations

from ..core.curation import ReviewStore, state_of
from ..core.storage import DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import check_drawing_id

PAGE_READS = 10  # store pages read at most to fill one page of consented drawings
REVIEWS_MAX_AGE_S = 5.0  # a review made on another worker shows in the gallery within this


def shown(record: DrawingRecord, reviews: ReviewStore) -> bool:
    return record.train and state_of(record, reviews.of(record.id)).learnable


def visible_page(drawings: DrawingStore, reviews: ReviewStore, label: int | None, limit: int, cursor: str | None,
                 private: bool = False) -> tuple[list[DrawingRecord], str | None]:
    """A page of stored drawings, newest first: those anyone may see, or with ``private`` all.

    Drawings sent with ``train: false`` were given to be recognised, not to be
    shown to others, and held or discarded ones are not the collection's; pages
    skip them and still come full while more exist (reading at most
    ``PAGE_READS`` pages of the store for one).
    """
    records, next_cursor = drawings.list(label, limit, cursor)
    if private:
        return records, next_cursor
    reviews.refresh(max_age_s=REVIEWS_MAX_AGE_S)
    visible = [r for r in records if shown(r, reviews)]
    for _ in range(PAGE_READS - 1):
        if len(visible) >= limit or next_cursor is None:
            break
        more, next_cursor = drawings.list(label, limit, next_cursor)
        visible += [r for r in more if shown(r, reviews)]
    if len(visible) > limit:
        visible, next_cursor = visible[:limit], visible[limit - 1].id
    return visible, next_cursor


def visible_drawing(drawings: DrawingStore, reviews: ReviewStore, drawing_id: str,
                    private: bool = False) -> DrawingRecord:
    """A stored drawing's record; one anyone may not see is NotFound unless ``private`` (the admin)."""
    record = drawings.get(check_drawing_id(drawing_id))
    if not private:
        reviews.refresh(max_age_s=REVIEWS_MAX_AGE_S)
        if not shown(record, reviews):
            raise NotFound(f"no drawing {drawing_id}")
    return record
