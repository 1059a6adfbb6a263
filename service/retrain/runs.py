"""A retrain run's plan and checkpoints, in the deployment's object store, so any machine can resume it.

Layout under ``retrain/`` (the run's id is the id of the promotion record it ends in)::

    <id>.json          the plan: cut-off, recipe, and every drawing it trains and judges on with its label,
                       weight and writer. Create-only: a resumed run trains on exactly the same data.
    <id>.<kind>.npz    the newest checkpoint of one model (lab.recipe: weights, optimizer state, epochs done),
                       replaced after each epoch (a put replaces a whole object, never part of one)

What holds: a run is *unfinished* while its plan exists and its promotion record does not; it is *finished*
once the record exists, and its plan and checkpoints are then deleted (checkpoints first, so a plan without a
record always has whatever checkpoints were written). A run killed at any point leaves its plan and its
newest checkpoints, and the next start resumes it.
"""

from __future__ import annotations

from ..core.promotions import PROMOTION_ID_RE
from ..core.storage import NotFound, ObjectStore
from ..core.storage.base import dump_json, parse_json


class RunStore:
    FOLDER = "retrain/"

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def _plan_name(self, run_id: str) -> str:
        return f"{self.FOLDER}{run_id}.json"

    def _checkpoint_name(self, run_id: str, kind: str) -> str:
        return f"{self.FOLDER}{run_id}.{kind}.npz"

    def put_plan(self, plan: dict) -> None:
        if not self.objects.put_if_absent(self._plan_name(plan["id"]), dump_json(plan)):
            raise ValueError(f"retrain run {plan['id']} already has a plan")

    def plan(self, run_id: str) -> dict:
        name = self._plan_name(run_id)
        return parse_json(self.objects.get(name), name)

    def run_ids(self) -> list[str]:
        """Every run with a plan, oldest first."""
        leaves = (name.rsplit("/", 1)[-1] for name, _ in self.objects.list(self.FOLDER))
        return sorted(leaf[:-5] for leaf in leaves if leaf.endswith(".json") and PROMOTION_ID_RE.match(leaf[:-5]))

    def put_checkpoint(self, run_id: str, kind: str, data: bytes) -> str:
        name = self._checkpoint_name(run_id, kind)
        self.objects.put(name, data)
        return name

    def checkpoint(self, run_id: str, kind: str) -> bytes | None:
        try:
            return self.objects.get(self._checkpoint_name(run_id, kind))
        except NotFound:
            return None

    def delete(self, run_id: str, kinds) -> None:
        """Forget a run: its checkpoints, then its plan."""
        self.objects.delete([self._checkpoint_name(run_id, kind) for kind in kinds])
        self.objects.delete([self._plan_name(run_id)])
