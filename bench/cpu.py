"""CPU time the server under test spends: its gunicorn workers and their PostgreSQL backends.

On a shared machine req/s moves with whatever else runs; the server's CPU milliseconds per
request move much less, so the benchmark reports both. Linux only (``/proc``); PostgreSQL's
share is counted when it runs on this machine, else left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.server import Server

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def _cpu_seconds(pid: int, task: int | None = None) -> float | None:
    fields = _stat(pid if task is None else f"{pid}/task/{task}")
    # utime and stime, fields 14 and 15 of proc(5), in clock ticks.
    return None if fields is None else (int(fields[11]) + int(fields[12])) / _TICKS


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def _side_threads(pid: int) -> list[int]:
    """The threads of process ``pid`` but its main one (a worker's batch thread and change listener)."""
    try:
        return [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir() if int(entry.name) != pid]
    except OSError:
        return []


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """Snapshots of the CPU seconds used so far by the server's processes, by kind; with
    ``threads``, also the part of the workers' used by their threads other than the one that
    serves requests (kind ``side threads``, counted in ``gunicorn`` too), keyed by thread id."""

    SIDE = "side threads"

    def __init__(self, server: Server, others: dict[str, int] | None = None, threads: bool = False):
        self.server = server
        self.others = others or {}  # more processes to count, by kind: {"flooder": pid}
        self.threads = threads
        self.available = Path("/proc/self/stat").exists()

    def _pids(self) -> dict[str, list[int]]:
        with self.server.database.connect(autocommit=True) as conn:
            backends = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchall()
        return {
            "gunicorn": _children(self.server.process.pid),  # the workers
            # A PostgreSQL elsewhere has pids of its own: count only backends running here.
            "postgres": [pid for (pid,) in backends if _is_postgres(pid)],
            **{kind: [pid] for kind, pid in self.others.items()},
        }

    def snapshot(self) -> dict[str, dict[int, float]]:
        if not self.available:
            return {}
        pids = self._pids()
        snapshot = {
            kind: {pid: seconds for pid in kind_pids if (seconds := _cpu_seconds(pid)) is not None}
            for kind, kind_pids in pids.items()
        }
        if self.threads:
            snapshot[self.SIDE] = {
                tid: seconds
                for pid in pids["gunicorn"]
                for tid in _side_threads(pid)
                if (seconds := _cpu_seconds(pid, tid)) is not None
            }
        return snapshot

    @staticmethod
    def used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds used between two snapshots, by kind (a process that started between
        them counts whole)."""
        return {
            kind: sum(seconds - before.get(kind, {}).get(pid, 0.0) for pid, seconds in pids.items())
            for kind, pids in after.items()
        }
