"""``python -m bench``: the introspection benchmark (docs/performance.md).

Starts the real server (gunicorn, PostgreSQL) once per caller mode, loads N tokens, and drives
it with wrk from a separate process on loopback, alternating the introspection endpoint with a
bare Django JSON view (bench/bare.py) served by gunicorn with the same settings. Per caller
mode and token state (warm: seen before; cold: first sight) it prints req/s, p50 and p99 and
the ratio to the bare view, then the change lag between two instances (bench/lag.py), and
writes everything to var/bench/latest.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

from bench import data, lag, report
from bench.cpu import CpuMeter
from bench.load import Measurement, require_wrk, run_wrk
from bench.modes import INTROSPECT_PATH, MODES, Mode
from bench.server import BareServer, Server, fresh_server
from deployment import REPO_ROOT
from deployment.postgres_url import parse_postgres_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tokens",
        type=int,
        nargs="+",
        default=[1_000, 1_000_000],
        metavar="N",
        help="token counts [1000 1000000]",
    )
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement [8]")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per target [2]")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/mode alternations [3]")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[os.cpu_count() or 2], help="gunicorn workers [one a core]"
    )
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--quick", action="store_true", help="a short try: 1,000 tokens, 3 s runs, 1 round")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL database to connect to for creating the benchmark's own "
        "[$BENCH_DATABASE_URL, else %(default)s]",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "var" / "bench" / "latest.json",
        help="[var/bench/latest.json]",
    )
    parser.add_argument(
        "--database-config",
        default="",
        help="more lines of [database.identity_db], e.g. 'prepared_statements = false'",
    )
    parser.add_argument("--changes", type=int, default=70, help="changes of each kind for the lag [70]")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (config, server log)")
    args = parser.parse_args(argv)
    if args.quick:
        args.tokens, args.duration, args.warmup, args.rounds, args.changes = [1_000], 3, 1, 1, 10
    return args


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Warm runs draw from this many tokens, all introspected during the warm-up; cold runs from
# the others, each drawn about once (so cold is measured only when N is much larger).
WARM_TOKENS = 1_000
COLD_FROM = 100_000


WARM_UP_MAX_RUNS = 30
_ANSWER_MISSES = re.compile(r'^identity_cache_lookups_total\{kind="answer",result="miss"\} (\S+)$', re.M)


def answer_misses(server: Server) -> float:
    """How many introspections the server's workers could not answer from their cache (/metrics)."""
    server.settle()  # the workers' latest counts reach /metrics together, within 0.1 s
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=10) as response:  # noqa: S310
        return sum(float(count) for count in _ANSWER_MISSES.findall(response.read().decode()))


def check_answers(server: Server, bare: BareServer | None, mode: Mode, callers: data.Callers) -> None:
    """One request each before timing: the figures must be of correct answers."""
    form = {"token": data.raw_token(0)}
    if bare is not None:
        response = bare.post(INTROSPECT_PATH, data=form)
        if response.status_code != 200 or response.json() != {"active": False}:
            answered = f"{response.status_code} {response.text}"
            raise RuntimeError(f"bare view answered {answered}; see {bare.log_path}")
    response = server.post(INTROSPECT_PATH, data=form, headers={"Authorization": mode.authorization(callers)})
    answer = response.json() if response.status_code == 200 else {}
    if not answer.get("active") or answer.get("client_id") != callers.client_id:
        answered = f"{response.status_code} {response.text}"
        raise RuntimeError(f"{mode.name}: introspection answered {answered}; see {server.log_path}")


def measure_mode(
    server: Server,
    bare: BareServer,
    mode: Mode,
    callers: data.Callers,
    files: dict[str, Path],
    tokens: int,
    args,
) -> list[report.Run]:
    """Serve ``mode``'s configuration; alternate bare-view and mode runs (warm, then cold)."""
    authorization = mode.authorization(callers)
    targets = {
        "bare": (bare, bare.base_url + INTROSPECT_PATH, "", files["warm"]),
        "warm": (server, server.base_url + INTROSPECT_PATH, authorization, files["warm"]),
    }
    if "cold" in files:
        targets["cold"] = (server, server.base_url + INTROSPECT_PATH, authorization, files["cold"])

    def run(target: str, seconds: float) -> Measurement:
        measured, url, auth, token_file = targets[target]
        meter = CpuMeter(measured)
        before = meter.snapshot()
        measurement = run_wrk(
            url, token_file, auth, seconds=seconds, connections=args.connections, threads=args.threads
        )
        used = meter.used(before, meter.snapshot())
        if not used or not measurement.requests:
            return measurement
        per_request = 1000 / measurement.requests
        return dataclasses.replace(
            measurement,
            server_cpu_ms=sum(used.values()) * per_request,
            postgres_cpu_ms=used["postgres"] * per_request,
        )

    server.start()
    try:
        check_answers(server, bare, mode, callers)
        run("bare", args.warmup)  # every worker's pool and PostgreSQL's buffers
        # Every worker's cache of the warm tokens' answers: until a run misses none.
        for _ in range(WARM_UP_MAX_RUNS):
            missed = answer_misses(server)
            run("warm", args.warmup)
            if answer_misses(server) == missed:
                break
        runs = []
        for number in range(args.rounds):
            baseline = run("bare", args.duration)
            for state in [target for target in targets if target != "bare"]:
                measurement = run(state, args.duration)
                name = f"{mode.name}/{state}"
                runs.append(report.Run(tokens, server.workers, name, number, measurement, baseline))
                say(
                    f"  N={tokens:,} workers={server.workers} {name:<12} round {number + 1}: "
                    f"{measurement.rps:7.0f} req/s (bare {baseline.rps:7.0f}), "
                    f"p99 {measurement.p99_ms:.1f} ms (bare {baseline.p99_ms:.1f}), "
                    f"CPU {_ms(measurement.server_cpu_ms)} ms/request (bare {_ms(baseline.server_cpu_ms)})"
                )
        return runs
    finally:
        server.stop()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["flood"]:  # a correct caller under a flood of bad credentials (bench/flood.py)
        from bench import flood

        return flood.main(argv[1:])
    if argv[:1] == ["floor"]:  # a cold lookup without Django against the bare view (bench/floor.py)
        from bench import floor

        return floor.main(argv[1:])
    args = parse_args(argv)
    require_wrk()
    server = fresh_server(args.database_url, "identity-bench-", database_config=args.database_config)
    folder, database = server.folder, server.database
    (folder / "bare").mkdir()
    bare = BareServer(folder / "bare", database)
    runs: list[report.Run] = []
    lags: dict = {}
    started = time.monotonic()
    finished = False
    try:
        say(f"bench: database {database.name}, work folder {folder}")
        callers = data.create_callers(server)
        with database.connect() as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
        loaded = 0
        for tokens in sorted(set(args.tokens)):
            clock = time.monotonic()
            data.load_tokens(server, callers, loaded, tokens)
            files = {
                "warm": data.write_token_file(folder / f"warm-{tokens}.txt", 0, min(tokens, WARM_TOKENS))
            }
            if tokens >= COLD_FROM:
                files["cold"] = data.write_token_file(folder / f"cold-{tokens}.txt", WARM_TOKENS, tokens)
            say(f"bench: {tokens:,} tokens loaded in {time.monotonic() - clock:.0f} s")
            loaded = tokens
            for workers in args.workers:
                bare.configure(workers=workers, extra="")
                bare.start()
                try:
                    for name in args.modes:
                        mode = MODES[name]
                        server.configure(workers=workers, extra=mode.config)
                        runs.extend(measure_mode(server, bare, mode, callers, files, tokens, args))
                finally:
                    bare.stop()
        if args.changes:
            server.configure(workers=args.workers[0], extra=lag.CONFIG)
            lags = lag.measure(server, callers, changes=args.changes, say=say)
        finished = True
    finally:
        server.stop()
        bare.stop()
        database.drop()
        if finished and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            say(f"bench: kept {folder} (deployment.toml, deployment.log)")
    rows = report.summarize(runs)
    checks = report.targets(rows)
    settings = {
        "tokens": sorted(set(args.tokens)),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "workers": args.workers,
        "worker_class": "sync",
        "tls": False,
        "postgresql": postgres,
        "database_host": parse_postgres_url(database.url).host,  # an address, or a socket's directory
        "database_config": args.database_config,
        "django": metadata.version("django"),
        "gunicorn": metadata.version("gunicorn"),
        "elapsed_s": round(time.monotonic() - started),
    }
    checks += lag.targets(lags)
    report.write_json(args.output, settings=settings, runs=runs, rows=rows, checks=checks, lags=lags)
    print(report.table(rows, args.connections))
    print()
    print(lag.table(lags))
    print()
    print(report.target_lines(checks))
    say(f"bench: {settings['elapsed_s']} s in all; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
