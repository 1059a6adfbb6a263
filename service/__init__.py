"""Inkling's service, in two wings over a shared core.

* :mod:`service.web` serves: predictions, storing drawings and enqueueing them, the API and the page.
* :mod:`service.learn` learns: the one learner of a deployment, from the queue to published versions.
* :mod:`service.core` is what both share: settings, the stores, the learn queue, writers' memories.

Neither wing imports the other; the entry points put them together:
``uvicorn service.app:app`` (a web worker, and with ``INKLING_ROLE=all`` the learner beside it) and
``python -m service.learner`` (the learner alone). ``docs/architecture.md`` draws both data flows.
"""

import os

# Every matrix here is small and every process already runs threads of its own (requests, TensorFlow's
# pool): BLAS threads only spin against them. Measured with scripts/bench_scaleout.py on 2 cores: the
# learner's CPU per drawing fell by a third with one OpenBLAS thread. Set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
