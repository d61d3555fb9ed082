"""``python -m bench.observability``: what logging, metrics and audit cost the warm introspection
endpoint (docs/operations.md#cost).

The same server (gunicorn, PostgreSQL, the ``client`` caller mode of bench/modes.py) is started
alternately with ``[observability] enabled = true`` (request ids, a JSON request line, metrics,
an audit line per decision) and ``false``, and driven with wrk; the cost is
``1 - on / off`` of the median throughput, and the extra server CPU per request.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import data
from bench.__main__ import DEFAULT_ADMIN_URL, check_answers
from bench.cpu import CpuMeter
from bench.load import Measurement, require_wrk, run_wrk
from bench.modes import INTROSPECT_PATH, MODES
from bench.server import Database, Server
from identity.deployment import REPO_ROOT

SWITCH = {True: "[observability]\nenabled = true\n", False: "[observability]\nenabled = false\n"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.observability", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tokens", type=int, default=1_000, help="tokens loaded [1000]")
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement [8]")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per start [2]")
    parser.add_argument("--rounds", type=int, default=4, help="on/off alternations [4]")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    parser.add_argument("--mode", choices=list(MODES), default="client", help="caller mode [client]")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="[%(default)s]",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "var" / "bench" / "observability.json",
        help="[%(default)s]",
    )
    return parser.parse_args(argv)


def measure(server: Server, enabled: bool, callers, token_file: Path, args) -> Measurement:
    """Start the server with observability ``enabled`` or not; return one warm measurement."""
    mode = MODES[args.mode]
    server.configure(workers=args.workers, extra=mode.config + SWITCH[enabled])
    server.start()
    try:
        check_answers(server, mode, callers)
        url, auth = server.base_url + INTROSPECT_PATH, mode.authorization(callers)
        run_wrk(url, token_file, auth, seconds=args.warmup, connections=args.connections, threads=1)
        meter = CpuMeter(server)
        before = meter.snapshot()
        result = run_wrk(
            url, token_file, auth, seconds=args.duration, connections=args.connections, threads=1
        )
        used = meter.used(before, meter.snapshot())
        if used and result.requests:
            result = dataclasses.replace(result, server_cpu_ms=sum(used.values()) * 1000 / result.requests)
        return result
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    require_wrk()
    folder = Path(tempfile.mkdtemp(prefix="identity-bench-obs-"))
    database = Database(args.database_url)
    database.create()
    server = Server(folder, database)
    runs: dict[bool, list[Measurement]] = {True: [], False: []}
    try:
        callers = data.create_callers(server)
        data.load_tokens(server, callers, 0, args.tokens)
        token_file = data.write_token_file(folder / "tokens.txt", args.tokens)
        for number in range(args.rounds):
            # Alternate which goes first, so that a drift of the machine falls on both alike.
            for enabled in (True, False) if number % 2 == 0 else (False, True):
                result = measure(server, enabled, callers, token_file, args)
                runs[enabled].append(result)
                print(
                    f"round {number + 1} observability {'on ' if enabled else 'off'}: "
                    f"{result.rps:7.0f} req/s, "
                    f"p99 {result.p99_ms:.1f} ms, CPU {result.server_cpu_ms or 0:.2f} ms/request, "
                    f"errors {result.error_count}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.stop()
        database.drop()
        shutil.rmtree(folder, ignore_errors=True)
    on_rps = statistics.median(run.rps for run in runs[True])
    off_rps = statistics.median(run.rps for run in runs[False])
    on_cpu = statistics.median(run.server_cpu_ms or 0 for run in runs[True])
    off_cpu = statistics.median(run.server_cpu_ms or 0 for run in runs[False])
    summary = {
        "mode": args.mode,
        "workers": args.workers,
        "tokens": args.tokens,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": args.connections,
        "on_rps": round(on_rps),
        "off_rps": round(off_rps),
        "throughput_cost": round(1 - on_rps / off_rps, 4),
        "on_cpu_ms_per_request": round(on_cpu, 3),
        "off_cpu_ms_per_request": round(off_cpu, 3),
        "cpu_cost": round(on_cpu / off_cpu - 1, 4) if off_cpu else None,
        "errors": sum(run.error_count for runs_of in runs.values() for run in runs_of),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
