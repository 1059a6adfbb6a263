"""Identifiers and timestamps that sort by time.

Drawing ids are the UTC time to the millisecond plus 10 random hex digits, so
they sort by creation time as plain strings (which is how both stores list them)
and two workers can mint ids without talking to each other:

>>> from datetime import datetime, timezone
>>> drawing_id = new_drawing_id(datetime(2026, 11, 27, 15, 4, 5, 123456, tzinfo=timezone.utc))
>>> drawing_id[:20], bool(DRAWING_ID_RE.match(drawing_id))
('20261127T150405123Z-', True)
>>> bool(DRAWING_ID_RE.match("../../etc/passwd"))
False

Caveat shared by everything ordered by these ids: the order is that of the
writers' clocks. Two hosts whose clocks disagree by a second can interleave
out of real-time order by up to a second.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

# [0-9], not \d, which also matches fullwidth and Arabic-Indic digits.
# \A...\Z (not ^...$): `match`, `fullmatch` and `search` all mean "the whole string",
# and a trailing newline does not sneak through.
DRAWING_ID_RE = re.compile(r"\A[0-9]{8}T[0-9]{9}Z-[0-9a-f]{10}\Z")
MODEL_NAME_RE = re.compile(r"\A[a-z0-9_]{1,40}\Z")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:  # naive datetimes are taken to be UTC already
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def utc_iso(now: datetime | None = None) -> str:
    """ISO-8601 UTC to the millisecond, e.g. ``2026-11-27T15:04:05.123Z``."""
    t = _utc(now)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def drawing_id_time_prefix(now: datetime) -> str:
    """The timestamp part of a drawing id: every id minted at ``now`` sorts after it."""
    t = _utc(now)
    return t.strftime("%Y%m%dT%H%M%S") + f"{t.microsecond // 1000:03d}Z"


def drawing_id_time(drawing_id: str) -> datetime:
    """When a drawing id was minted (by its writer's clock)."""
    return datetime.strptime(drawing_id[:18], "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc)


def new_drawing_id(now: datetime | None = None) -> str:
    """A fresh, time-ordered, URL-safe id such as ``20261127T150405123Z-3f9a1c2b7d``."""
    return f"{drawing_id_time_prefix(_utc(now))}-{secrets.token_hex(5)}"
