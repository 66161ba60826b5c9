"""CPU seconds of a Spark application's driver and executors on this machine, from /proc (benchmarks only).

The driver is this Python process plus its JVM (the py4j gateway, a child process); the executors are the
`CoarseGrainedExecutorBackend` JVMs of the application (`--app-id`) with every process under them (the Python
workers that run mapInArrow; those that ended are counted in their parent's children-CPU fields). Take a
`snapshot()` before and after a stage and subtract.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, reaped children's CPU s) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ppid, (utime + stime) / _TICK, (cutime + cstime) / _TICK


def _tree(root: int, parents: dict[int, int]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return out


@dataclass
class CpuSnapshot:
    driver: float
    executors: float

    def __sub__(self, other: CpuSnapshot) -> CpuSnapshot:
        return CpuSnapshot(self.driver - other.driver, self.executors - other.executors)


def snapshot(app_id: str, gateway_pid: int | None) -> CpuSnapshot:
    stats, cmdlines = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is not None:
                stats[pid] = stat
                try:
                    cmdlines[pid] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmdlines[pid] = ""
    parents = {pid: s[0] for pid, s in stats.items()}

    def total(pids: list[int]) -> float:
        return sum(stats[p][1] + stats[p][2] for p in pids if p in stats)

    me = os.getpid()
    driver = stats[me][1] + (total([gateway_pid]) if gateway_pid else 0.0)
    executors = 0.0
    for pid, cmd in cmdlines.items():
        if "CoarseGrainedExecutorBackend" in cmd and f"--app-id {app_id}" in cmd:
            executors += total(_tree(pid, parents))
    return CpuSnapshot(driver, executors)
