"""feedback -> augment -> learn -> persist, one writer per model.

Each online model has its own single-thread executor: that thread is the
model's only writer in this process, and its queue orders the steps. The FNN
and the CNN learn from the same drawing at the same time, each on its thread.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.augment import augment

from .guard import HoldoutGuard
from .online import OnlineModel, Published
from .replay import ReplayBuffer

log = logging.getLogger(__name__)


class Learner:
    def __init__(self, online: dict[str, OnlineModel], replay: ReplayBuffer, guard: HoldoutGuard,
                 keep_versions: int = 50, on_step=None, on_rollback=None):
        self.online, self.replay, self.guard, self.keep_versions = online, replay, guard, keep_versions
        self._on_step, self._on_rollback = on_step, on_rollback
        self._writers = {name: ThreadPoolExecutor(1, thread_name_prefix=f"learn-{name}") for name in online}

    def _step(self, name: str, X: np.ndarray, y: np.ndarray, meta: dict, suspicious: bool) -> Published:
        published = self.online[name].learn_one(X, y, meta)
        if self._on_step:
            self._on_step(name)
        if suspicious or self.guard.due(published.steps):
            # Queued on the same writer: it runs in order with the steps, but the
            # person whose drawing triggered it does not wait ~0.1 s for the holdout.
            self._writers[name].submit(self._check, name)
        return published

    def _check(self, name: str) -> None:
        online = self.online[name]
        try:
            self.guard.check(online, on_rollback=self._on_rollback)
            # Each CNN version is 1.8 MB: keep the recent ones and every rollback target.
            online.store.prune(name, keep_last=self.keep_versions, keep=self.guard.good_versions(online))
        except Exception:  # a failed check must not kill the writer thread; the next one will run
            log.exception("guard check of %s failed", name)

    async def learn(self, x28: np.ndarray, label: int, meta: dict, suspicious: bool = False) -> dict[str, int]:
        """Teach every online model one drawing; returns their new versions.

        ``suspicious``: the label is one the original models find implausible
        (a vandal's, or a rare honest correction); the guard then checks right
        after this step instead of waiting for its turn.
        """
        loop = asyncio.get_running_loop()
        variants = await asyncio.to_thread(augment, x28)
        X, y = self.replay.batch(variants, label)
        # Both steps finish (or fail) before we answer, so "after" never races a step still running.
        results = await asyncio.gather(*(
            loop.run_in_executor(self._writers[name], self._step, name, X, y, meta, suspicious) for name in self.online
        ), return_exceptions=True)
        if failed := [r for r in results if isinstance(r, BaseException)]:
            raise failed[0]
        self.replay.add(x28, label)
        return {name: r.version for name, r in zip(self.online, results)}

    async def run_exclusive(self, name: str, fn, *args):
        """Run ``fn`` on ``name``'s writer thread (e.g. an admin rollback), in order with its steps."""
        return await asyncio.get_running_loop().run_in_executor(self._writers[name], fn, *args)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.shutdown(wait=True)
