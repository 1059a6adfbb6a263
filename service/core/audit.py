"""The audit log of what admins do to the models: rollbacks and forced promotions.

Reviews are their own audit log (:mod:`service.core.curation`); the models' actions are here, one
immutable object each, ``audit/<id>.json``, named by a time-ordered id, never overwritten. The action
itself is recorded where it takes effect too (a version's meta names who and why), so the log is a
convenient index, not the only witness: an action whose entry a crash lost is still in the weight store.

>>> import tempfile
>>> from service.core.storage.local import LocalObjects
>>> log = AuditLog(LocalObjects(tempfile.mkdtemp()))
>>> entry = log.record("rollback", by="ana", model="cnn_original", version=3, to=0, why="worse on sevens")
>>> [(e["action"], e["by"], e["model"], e["to"]) for e in log.since(None)]
[('rollback', 'ana', 'cnn_original', 0)]
"""

from __future__ import annotations

import re

from .storage import NotFound, ObjectStore
from .storage.base import CorruptObject, dump_json, parse_json
from .storage.ids import new_drawing_id, utc_iso

AUDIT_ID_RE = re.compile(r"\Aa[0-9]{8}T[0-9]{9}Z-[0-9a-f]{10}\Z")
ACTIONS = ("rollback", "force")


class AuditLog:
    FOLDER = "audit/"

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def record(self, action: str, *, by: str, **details) -> dict:
        """Store one entry (``details``: JSON values that say what was done); returns it."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        entry = {"id": "a" + new_drawing_id(), "action": action, "by": by, "at": utc_iso(), **details}
        self.objects.put_if_absent(f"{self.FOLDER}{entry['id']}.json", dump_json(entry))
        return entry

    def since(self, entry_id: str | None) -> list[dict]:
        """Entries after ``entry_id`` (all if None), oldest first."""
        leaves = sorted(name.rsplit("/", 1)[-1][:-5] for name, _ in self.objects.list(self.FOLDER)
                        if name.endswith(".json"))
        out = []
        for leaf in leaves:
            if AUDIT_ID_RE.match(leaf) and (entry_id is None or leaf > entry_id):
                try:
                    out.append(parse_json(self.objects.get(f"{self.FOLDER}{leaf}.json"), leaf))
                except (NotFound, CorruptObject):
                    continue
        return out
