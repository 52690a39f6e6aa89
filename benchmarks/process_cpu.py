"""CPU seconds a process (and its threads) has used, from /proc: a figure that holds up when
other work shares the machine, unlike a wall-clock rate."""

from __future__ import annotations

import os

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    user_ticks, system_ticks = int(fields[11]), int(fields[12])  # utime, stime (fields 14, 15)
    return (user_ticks + system_ticks) / TICKS_PER_SECOND
