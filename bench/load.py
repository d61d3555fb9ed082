"""Drive load with wrk (Debian's ``wrk``) from a separate process on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk.lua")
MARKER = "BENCH_RESULT "


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    # CPU per request: gunicorn workers + their PostgreSQL backends, and the latter's share.
    server_cpu_ms: float | None = None
    postgres_cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def require_wrk() -> str:
    """Return the path of wrk, or say how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed; install it with `apt-get install -y wrk`")
    return path


def run_wrk(
    url: str, token_file: Path, authorization: str, *, seconds: float, connections: int, threads: int
) -> Measurement:
    """Run wrk against ``url`` for ``seconds`` and return what its ``done()`` hook reported."""
    argv = [
        require_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={SCRIPT}",
        url,
        "--",
        str(token_file),
        authorization,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    line = next((line for line in done.stdout.splitlines() if line.startswith(MARKER)), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len(MARKER) :])
    return Measurement(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1e3,
        p90_ms=raw["p90_us"] / 1e3,
        p99_ms=raw["p99_us"] / 1e3,
        max_ms=raw["max_us"] / 1e3,
        errors=raw["errors"],
    )
