"""Inkling's web service and learner (``uvicorn service.app:app``, ``python -m service.learner``)."""

import os

# Every matrix here is small and every process already runs threads of its own (requests, TensorFlow's
# pool): BLAS threads only spin against them. Measured with scripts/bench_scaleout.py on 2 cores: the
# learner's CPU per drawing fell by a third with one OpenBLAS thread. Set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
