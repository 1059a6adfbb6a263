"""How a process tunes its runtime for its role: TensorFlow's threads and precision for learning, glibc's
allocator for serving. Each is called once, at start-up, before the threads it affects start."""

from __future__ import annotations

import ctypes

from .settings import Settings


def configure_tensorflow(threads: int) -> None:
    """One thread per op: a server runs many one-image calls at once, and splitting each tiny
    convolution across cores costs more than it saves (measured: two CNN predictions 1.3 ms
    instead of 2.2 ms, 715 instead of 541 pairs/s on 2 cores; a learning step 26 ms instead of 15)."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this process (tests build several apps)
        pass


def learn_dtype(settings: Settings) -> str:
    """The CNN's online step precision: ``settings.learn_dtype``, where "auto" means bfloat16 if the CPU has it."""
    if settings.learn_dtype != "auto":
        return settings.learn_dtype
    return "bfloat16" if cpu_has_bfloat16() else "float32"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX; Linux only, else False)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc_for_serving(arenas: int = 2, mmap_threshold: int = 1 << 20, trim_threshold: int = 8 << 20) -> None:
    """Make glibc give memory back: a serving process's resident size then tracks what it uses.

    By default glibc keeps up to 8 arenas a core (one per thread that allocates)
    and, once a big block is freed, raises the size above which it maps blocks
    of their own (up to 32 MB), so later big temporaries (a batch of feature
    maps) land in the arenas and stay there. Measured on a web worker: 139 MB
    resident after start-up by default, ~100 MB with 2 arenas and blocks of
    1 MB or more always mapped (and unmapped when freed). But a fixed mapping
    threshold also fixes the size of free memory above which an arena is
    trimmed at 128 KB, and one prediction's temporaries are more: each was
    given back to the kernel and faulted in again by the next (~250 page faults,
    ~1 ms of a web worker's ~3.8 ms a request). Arenas keep up to ``trim_threshold``
    free (8 MB: 0 faults, the same resident size). Call it before threads
    start. Elsewhere (musl, macOS) it does nothing.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    except (OSError, AttributeError):
        pass
