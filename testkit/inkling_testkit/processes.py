"""What a process (or the whole machine) has used so far, from Linux's ``/proc``: for the benchmarks' accounts.

>>> import os
>>> cpu_seconds(os.getpid()) >= 0 and rss_mb(os.getpid()) > 0 and machine_busy_seconds() > 0
True
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident memory of one process now, in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def rss_mb(pid: int) -> float:
    """Resident memory of one process now, in MB."""
    return rss_kb(pid) / 1024


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idling and waiting for I/O, so far."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, open("/proc/stat").readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
