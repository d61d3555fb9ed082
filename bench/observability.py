"""``python -m bench.observability``: what logging, metrics and audit cost the warm introspection
endpoint (docs/operations.md#cost).

Three measurements on the benchmark's data (PostgreSQL, the ``client`` caller mode of
bench/modes.py):

1. **Served**: two real servers (gunicorn) on one database, one with ``[observability]
   enabled = true`` (request ids, a JSON request line, metrics, an audit line per decision) and
   one with ``false``, both started and warmed once, then driven by wrk in turn, slice after
   slice (the one not driven idles). The cost is ``1 - on / off`` of the median throughputs,
   and the median of each pair of slices' own ``1 - on / off``: a pair runs within seconds, so
   the machine's drift, larger on a shared host than the cost itself, falls on both alike.
2. **In one process each**: two child processes, one started with the switch on and one with
   it off, run the same WSGI application as a worker (the replay layer in front of Django),
   with the JSON log lines, the audit file and the multiprocess metrics files as under
   gunicorn; blocks of introspection requests alternate between them (no HTTP), each timed by
   its process's CPU, the batch thread's work for its lines and counts included (done at its
   end). It leaves out PostgreSQL's own CPU, the same on and off, so the share it reports is
   an upper bound of the cost.
3. **Instructions** (``--instructions``, needs Debian's ``valgrind``): the same child, one
   block on and one off, under callgrind, counting only the block: instructions per replayed
   request, the same from run to run whatever else the machine does (not time: a cache miss
   counts as one instruction).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import data
from bench.__main__ import DEFAULT_ADMIN_URL, WARM_UP_MAX_RUNS, answer_misses, check_answers
from bench.cpu import CpuMeter
from bench.load import Measurement, require_wrk, run_wrk
from bench.modes import INTROSPECT_PATH, MODES
from bench.server import Server, fresh_server
from deployment import REPO_ROOT
from tests.support.server import LineProcess

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
    parser.add_argument(
        "--config", default="", help="more deployment.toml lines, e.g. '[logging]\\nlevel = \"WARNING\"'"
    )
    parser.add_argument("--batches", type=int, default=20, help="in-process on/off batches [20]")
    parser.add_argument("--batch", type=int, default=300, help="requests per in-process batch [300]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions under callgrind (valgrind)"
    )
    parser.add_argument("--counted", type=int, default=1000, help="requests counted by callgrind [1000]")
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


def start_warm(server: Server, enabled: bool, callers, token_file: Path, args, warm_up_runs: int) -> int:
    """Start ``server`` with observability ``enabled`` or not, and drive it until every worker has
    every token's answer: told by /metrics when on; when off (no metrics), for ``warm_up_runs``,
    what the server with the switch on needed. Return the runs it took."""
    mode = MODES[args.mode]
    server.configure(workers=args.workers, extra=mode.config + SWITCH[enabled] + args.config)
    server.start()
    check_answers(server, None, mode, callers)
    url, auth = server.base_url + INTROSPECT_PATH, mode.authorization(callers)
    for number in range(1, WARM_UP_MAX_RUNS + 1):
        missed = answer_misses(server) if enabled else None
        run_wrk(url, token_file, auth, seconds=args.warmup, connections=args.connections, threads=1)
        if (enabled and answer_misses(server) == missed) or (not enabled and number >= warm_up_runs):
            return number
    return WARM_UP_MAX_RUNS


def measure(server: Server, callers, token_file: Path, args) -> tuple[Measurement, float | None]:
    """One warm measurement of a started server: throughput, latency and server CPU a request,
    and the CPU microseconds a request of the workers' side threads (the batch thread's work:
    the deferred lines and counts; the change listener idles)."""
    mode = MODES[args.mode]
    meter = CpuMeter(server, threads=True)
    before = meter.snapshot()
    result = run_wrk(
        server.base_url + INTROSPECT_PATH,
        token_file,
        mode.authorization(callers),
        seconds=args.duration,
        connections=args.connections,
        threads=1,
    )
    used = meter.used(before, meter.snapshot())
    side = None
    if used and result.requests:
        side = used.pop(CpuMeter.SIDE) * 1e6 / result.requests
        # Both servers' PostgreSQL backends are counted (one database): the idle one's add nothing.
        result = dataclasses.replace(result, server_cpu_ms=sum(used.values()) * 1000 / result.requests)
    return result, side


def in_process(server: Server, callers, token_file: Path, args) -> dict:
    """Start one child process per switch, each as a worker starts (its own configuration read
    at start-up, so that what observability installs then, the metrics (the cache's lookup
    counts among them), the logging configuration, is in the "on" child alone), and alternate blocks of
    requests between them; return each one's CPU per request and the paired cost."""
    mode = MODES[args.mode]
    children: dict[bool, _Child] = {}
    try:
        for enabled in (True, False):
            server.configure(workers=args.workers, extra=mode.config + SWITCH[enabled] + args.config)
            children[enabled] = _Child(server, enabled, token_file, mode.authorization(callers))
        for child in children.values():
            for _ in range(2):  # warm: the caches, the pool, the answers kept, then replayed once
                child.run(args.batch)
        per_request: dict[bool, list[float]] = {True: [], False: []}
        for number in range(args.batches):
            for enabled in (True, False) if number % 2 == 0 else (False, True):
                per_request[enabled].append(children[enabled].run(args.batch))
    finally:
        for child in children.values():
            child.close()
    on, off = statistics.median(per_request[True]), statistics.median(per_request[False])
    result = {"on_cpu_ms_per_request": round(on, 4), "off_cpu_ms_per_request": round(off, 4)}
    result["cpu_cost"] = round(on / off - 1, 4)
    # Each on block beside its off block: the machine's drift between blocks, larger on a shared
    # host than the cost itself, falls on both alike.
    pairs = zip(per_request[True], per_request[False], strict=True)
    result["paired_cost_us_per_request"] = round(statistics.median(a - b for a, b in pairs) * 1000, 2)
    return result


def instructions(server: Server, callers, token_file: Path, args) -> dict:
    """Run a child per switch under callgrind, one counted block each (after two warm ones); return
    the instructions per replayed request of each and the difference."""
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: --instructions needs valgrind: `apt-get install -y valgrind`")
    mode = MODES[args.mode]
    per_request = {}
    for enabled in (True, False):
        server.configure(workers=args.workers, extra=mode.config + SWITCH[enabled] + args.config)
        out = server.folder / f"callgrind-{'on' if enabled else 'off'}.out"
        # Only what runs inside sys.call_tracing is counted: the block (_in_process_child).
        prefix = ("valgrind", "--tool=callgrind", "--collect-atstart=no")
        prefix += ("--toggle-collect=sys_call_tracing", f"--callgrind-out-file={out}")
        child = _Child(server, enabled, token_file, mode.authorization(callers), prefix)
        try:
            for _ in range(2):  # warm: every answer the block asks for is kept, then replayed once
                child.run(args.counted)
            child.ask(f"count {args.counted}")
        finally:
            child.close()
        summary = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        if summary is None or not int(summary.group(1)):
            raise RuntimeError(f"callgrind counted nothing in {out} (a Python without symbols?)")
        per_request[enabled] = int(summary.group(1)) / args.counted
    on, off = per_request[True], per_request[False]
    return {
        "on_per_request": round(on),
        "off_per_request": round(off),
        "cost_per_request": round(on - off),
        "cost": round(on / off - 1, 4),
    }


class _Child(LineProcess):
    """A ``--child`` process on the configuration ``server`` has now, answering blocks of
    requests asked for on its standard input with their CPU per request."""

    def __init__(
        self, server: Server, enabled: bool, token_file: Path, authorization: str, prefix: tuple = ()
    ):
        name = "on" if enabled else "off"
        metrics_dir = server.folder / "var" / f"metrics-in-process-{name}"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env = {**server.env(), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        argv = ["bench.observability", "--child", str(token_file), authorization]
        super().__init__(argv, env, server.folder / f"in-process-{name}.log", prefix)
        self.ask(None)  # ready: its configuration is read (the next child's may be written)

    def run(self, count: int) -> float:
        return float(self.ask(str(count)))


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """The distribution-free interval that holds the median of what ``values`` were drawn from
    with at least ``confidence``: the ``k``-th smallest and ``k``-th largest value, ``k`` the
    largest with ``P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2`` (the sign test). None
    when there are too few values for it (fewer than 6 for 95%)."""
    ordered, count = sorted(values), len(values)
    below, k = 0.0, 0
    while True:  # below: P(fewer than k + 1 of the values fall under the median)
        below += math.comb(count, k) / 2**count
        if below > (1 - confidence) / 2:
            break
        k += 1
    return (ordered[k - 1], ordered[count - k]) if k else None


def _in_process_child(token_file: Path, authorization: str) -> None:
    """Serve blocks of introspection requests through the worker's replay layer, one block for
    each count read from standard input; answer each with its CPU milliseconds per request."""
    import logging

    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from identity import batches, metrics
    from introspection.replay import AnswerReplay

    tokens = token_file.read_text().split()
    application = AnswerReplay(WSGIHandler())
    factory = RequestFactory()

    def started(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise RuntimeError(f"introspection answered {status}")

    # The batch thread's work for a block is done at its end, inside its time: left to the thread,
    # it would fall in whichever block runs 0.1 s later.
    handlers = [*logging.getLogger("audit").handlers, *logging.getLogger().handlers]

    def block(count: int) -> None:
        for index in range(count):
            environ = factory.post(
                INTROSPECT_PATH, {"token": tokens[index % len(tokens)]}, HTTP_AUTHORIZATION=authorization
            ).environ
            result = application(environ, started)
            b"".join(result)
            if hasattr(result, "close"):
                result.close()
        for handler in handlers:
            handler.flush()
        metrics.tally.flush()

    print("ready", flush=True)
    for line in sys.stdin:
        if line.startswith("count "):
            # Under callgrind, counting what runs inside sys.call_tracing (in this thread): the
            # batch thread is first put to a long sleep, so that the block does all its work.
            for batch in (metrics.tally, *handlers):
                if getattr(batch, "flush_interval", 0):
                    batch.flush_interval = 3600
            batches.flusher.LONGEST_SLEEP = 3600
            time.sleep(2 * batches.Flusher.LONGEST_SLEEP)  # its current sleep ends, the long one begins
            sys.call_tracing(block, (int(line.split()[1]),))
            print("counted", flush=True)
            continue
        count = int(line)
        began = time.process_time()
        block(count)
        print((time.process_time() - began) * 1000 / count, flush=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("token_file", type=Path)
        parser.add_argument("authorization")
        child = parser.parse_args(argv[1:])
        _in_process_child(child.token_file, child.authorization)
        return 0
    args = parse_args(argv)
    require_wrk()
    server = fresh_server(args.database_url, "identity-bench-obs-")
    # The other server: its own folder (configuration, logs, metrics), the same database.
    other = Server(Path(tempfile.mkdtemp(prefix="identity-bench-obs-off-")), server.database)
    servers = {True: server, False: other}
    runs: dict[bool, list[Measurement]] = {True: [], False: []}
    side_us: dict[bool, list[float]] = {True: [], False: []}
    counted = None
    try:
        callers = data.create_callers(server)
        data.load_tokens(server, callers, 0, args.tokens)
        token_file = data.write_token_file(server.folder / "tokens.txt", 0, args.tokens)
        if args.instructions:
            counted = instructions(server, callers, token_file, args)
            print(f"instructions: {json.dumps(counted)}", file=sys.stderr, flush=True)
        in_process_result = in_process(server, callers, token_file, args)
        print(f"in one process: {json.dumps(in_process_result)}", file=sys.stderr, flush=True)
        if args.rounds:
            warm_up_runs = start_warm(server, True, callers, token_file, args, WARM_UP_MAX_RUNS)
            start_warm(other, False, callers, token_file, args, warm_up_runs)
        for number in range(args.rounds):
            # Alternate which goes first, so that a drift of the machine falls on both alike.
            for enabled in (True, False) if number % 2 == 0 else (False, True):
                result, side = measure(servers[enabled], callers, token_file, args)
                runs[enabled].append(result)
                if side is not None:
                    side_us[enabled].append(side)
                print(
                    f"round {number + 1} observability {'on ' if enabled else 'off'}: "
                    f"{result.rps:7.0f} req/s, "
                    f"p99 {result.p99_ms:.1f} ms, CPU {result.server_cpu_ms or 0:.3f} ms/request "
                    f"({side or 0:.1f} us side threads), errors {result.error_count}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for each in servers.values():
            each.stop()
        server.database.drop()
        for each in servers.values():
            shutil.rmtree(each.folder, ignore_errors=True)

    def median(values) -> float | None:
        values = list(values)
        return statistics.median(values) if values else None

    on_rps, off_rps = median(run.rps for run in runs[True]), median(run.rps for run in runs[False])
    on_cpu = median(run.server_cpu_ms or 0 for run in runs[True])
    off_cpu = median(run.server_cpu_ms or 0 for run in runs[False])
    paired = [1 - on.rps / off.rps for on, off in zip(runs[True], runs[False], strict=True) if off.rps]
    summary = {
        "mode": args.mode,
        "workers": args.workers,
        "tokens": args.tokens,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": args.connections,
        "on_rps": round(on_rps) if on_rps else None,
        "off_rps": round(off_rps) if off_rps else None,
        "throughput_cost": round(1 - on_rps / off_rps, 4) if on_rps and off_rps else None,
        # Each round's on and off ran back to back: the median of their ratios leaves out most
        # of the machine's drift between rounds.
        "paired_throughput_cost": round(median(paired), 4) if paired else None,
        # Where the median pair's cost lies with 95% confidence (the sign test): the target is
        # shown met when the upper end is under it.
        "paired_throughput_cost_95": (
            [round(end, 4) for end in interval] if (interval := median_interval(paired)) else None
        ),
        "on_cpu_ms_per_request": round(on_cpu, 3) if on_cpu else None,
        "off_cpu_ms_per_request": round(off_cpu, 3) if off_cpu else None,
        "cpu_cost": round(on_cpu / off_cpu - 1, 4) if on_cpu and off_cpu else None,
        # The workers' threads but the one that serves: the batch thread's deferred work.
        "on_side_threads_us_per_request": round(median(side_us[True]), 2) if side_us[True] else None,
        "off_side_threads_us_per_request": round(median(side_us[False]), 2) if side_us[False] else None,
        "errors": sum(run.error_count for runs_of in runs.values() for run in runs_of),
        "in_process": in_process_result,
        "instructions": counted,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
