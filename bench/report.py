"""Summarize the runs into the table of docs/performance.md, check the targets, write JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.load import Measurement

BASELINE = "bare"
# The targets (docs/performance.md): req/s as a part of the bare Django view's, p99 as a multiple.
TARGET_WARM_RATIO = 0.75
TARGET_COLD_RATIO = 0.45
TARGET_P99_VS_BARE = 1.5
TARGET_USER_P99_VS_CLIENT = 1.5


@dataclass(frozen=True)
class Run:
    tokens: int
    workers: int
    mode: str
    round: int
    measurement: Measurement
    baseline: Measurement  # the bare view's run just before it


@dataclass(frozen=True)
class Row:
    tokens: int
    workers: int
    mode: str
    rps: float
    p50_ms: float
    p99_ms: float
    ratio: float  # req/s over the bare view's (median of per-round ratios)
    cpu_ms: float | None  # server CPU per request (gunicorn workers + PostgreSQL backends)
    cpu_ratio: float | None  # the bare view's CPU per request over this mode's (likewise)
    postgres_cpu_ms: float | None  # PostgreSQL's part of cpu_ms
    errors: int


def summarize(runs: list[Run]) -> list[Row]:
    """One row per (tokens, workers, mode/state), medians over rounds; the bare view's row first.

    A mode's ratios are medians of per-round ratios, each to the bare view's run just before it:
    a shared machine's load drifts, and a pair of adjacent runs shares it."""
    rows = []
    for tokens, workers in dict.fromkeys((run.tokens, run.workers) for run in runs):
        group = [run for run in runs if (run.tokens, run.workers) == (tokens, workers)]
        rows.append(_row(tokens, workers, BASELINE, [(run.baseline, run.baseline) for run in group]))
        for mode in dict.fromkeys(run.mode for run in group):
            pairs = [(run.measurement, run.baseline) for run in group if run.mode == mode]
            rows.append(_row(tokens, workers, mode, pairs))
    return rows


def _row(tokens: int, workers: int, mode: str, pairs: list[tuple[Measurement, Measurement]]) -> Row:
    measurements = [measurement for measurement, _ in pairs]
    cpu = [m.server_cpu_ms for m in measurements if m.server_cpu_ms is not None]
    postgres = [m.postgres_cpu_ms for m in measurements if m.postgres_cpu_ms is not None]
    cpu_ratios = [b.server_cpu_ms / m.server_cpu_ms for m, b in pairs if m.server_cpu_ms and b.server_cpu_ms]
    return Row(
        tokens=tokens,
        workers=workers,
        mode=mode,
        rps=statistics.median(m.rps for m in measurements),
        p50_ms=statistics.median(m.p50_ms for m in measurements),
        p99_ms=statistics.median(m.p99_ms for m in measurements),
        ratio=statistics.median(m.rps / b.rps for m, b in pairs if b.rps),
        cpu_ms=statistics.median(cpu) if cpu else None,
        cpu_ratio=statistics.median(cpu_ratios) if cpu_ratios else None,
        postgres_cpu_ms=statistics.median(postgres) if postgres else None,
        errors=sum(m.error_count for m in measurements),
    )


def targets(rows: list[Row]) -> list[dict]:
    """The targets, at the largest N and each worker count measured."""
    checks = []
    largest = max(row.tokens for row in rows)
    for workers in dict.fromkeys(row.workers for row in rows):
        by_mode = {row.mode: row for row in rows if row.tokens == largest and row.workers == workers}
        bare, client = by_mode.get(BASELINE), by_mode.get("client/warm")
        if client is None or bare is None:
            continue
        where = f"N={largest:,}, {workers} workers"
        checks.append(_check(f"warm client / bare req/s ({where})", client.ratio, ">=", TARGET_WARM_RATIO))
        if "client/cold" in by_mode:
            cold = by_mode["client/cold"].ratio
            checks.append(_check(f"cold client / bare req/s ({where})", cold, ">=", TARGET_COLD_RATIO))
        p99 = client.p99_ms / bare.p99_ms
        checks.append(_check(f"warm client p99 / bare p99 ({where})", p99, "<=", TARGET_P99_VS_BARE))
        if "user/warm" in by_mode:
            user = by_mode["user/warm"].p99_ms / client.p99_ms
            checks.append(
                _check(f"warm user p99 / client p99 ({where})", user, "<=", TARGET_USER_P99_VS_CLIENT)
            )
    return checks


def _check(name: str, value: float, op: str, target: float) -> dict:
    met = value >= target if op == ">=" else value <= target
    return {"target": name, "value": round(value, 3), "op": op, "goal": target, "met": met}


def table(rows: list[Row], connections: int) -> str:
    lines = [
        f"{'tokens':>9}  {'workers':>7}  {'mode':<12}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'ratio':>5}  {'CPU ms/req':>10}  {'of it PG':>8}  {'CPU ratio':>9}  errors"
        f"   ({connections} connections)"
    ]
    for row in rows:
        lines.append(
            f"{row.tokens:>9,}  {row.workers:>7}  {row.mode:<12}  {row.rps:>7.0f}  {row.p50_ms:>7.2f}  "
            f"{row.p99_ms:>7.2f}  {row.ratio:>5.2f}  {_number(row.cpu_ms):>10}  "
            f"{_number(row.postgres_cpu_ms):>8}  {_number(row.cpu_ratio):>9}  {row.errors}"
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def target_lines(checks: list[dict]) -> str:
    return "\n".join(
        f"{'met   ' if c['met'] else 'MISSED'} {c['target']}: {c['value']} (goal {c['op']} {c['goal']})"
        for c in checks
    )


def machine() -> dict:
    """What the figures were measured on."""
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": _first_line(["wrk", "--version"]),
    }


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else ""


def write_json(
    path: Path, *, settings: dict, runs: list[Run], rows: list[Row], checks: list[dict], lags: dict
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "settings": settings,
        "machine": machine(),
        "rows": [asdict(row) for row in rows],
        "targets": checks,
        "change_lag": lags,
        "runs": [
            asdict(run) | {"rps": run.measurement.rps, "baseline_rps": run.baseline.rps} for run in runs
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
