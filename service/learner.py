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
                 on_step=None, on_rollback=None):
        self.online, self.replay, self.guard = online, replay, guard
        self._on_step, self._on_rollback = on_step, on_rollback
        self._writers = {name: ThreadPoolExecutor(1, thread_name_prefix=f"learn-{name}") for name in online}

    def _step(self, name: str, X: np.ndarray, y: np.ndarray, meta: dict) -> Published:
        online = self.online[name]
        published = online.learn_one(X, y, meta)
        if self._on_step:
            self._on_step(name)
        if self.guard.due(published.steps):
            self.guard.check(online, on_rollback=self._on_rollback)
        return Published(online.version, online.steps)

    async def learn(self, x28: np.ndarray, label: int, meta: dict) -> dict[str, int]:
        """Teach every online model one drawing; returns their new versions."""
        loop = asyncio.get_running_loop()
        variants = await asyncio.to_thread(augment, x28)
        X, y = self.replay.batch(variants, label)
        results = await asyncio.gather(
            *(loop.run_in_executor(self._writers[name], self._step, name, X, y, meta) for name in self.online)
        )
        self.replay.add(x28, label)
        return {name: r.version for name, r in zip(self.online, results)}

    async def run_exclusive(self, name: str, fn, *args):
        """Run ``fn`` on ``name``'s writer thread (e.g. an admin rollback), in order with its steps."""
        return await asyncio.get_running_loop().run_in_executor(self._writers[name], fn, *args)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.shutdown(wait=True)
