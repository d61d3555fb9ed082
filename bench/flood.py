"""``python -m bench flood``: a correct caller's latency under a flood of bad credentials.

Starts the real server (gunicorn, PostgreSQL) as ``python -m bench`` does, with the Basic user
caller mode. A correct caller (its own address) introspects one token in a loop, first alone,
then while 16 threads in another process send bad Basic credentials from another address
(measured once the flood is answered 429: before that, each bad credential costs a hash);
then the same with ``[throttle] enabled = false`` for comparison. Addresses come from
``X-Forwarded-For``, the server trusting loopback as its proxy. Then the same flood against
the floor (bench/floor.py: a WSGI application that answers the flood 429 and does nothing else,
under the same gunicorn settings). Prints the medians and the ratios (target: flooded median <=
2x unloaded; docs/security.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from bench import data
from bench.cpu import CpuMeter
from bench.floor import FLOOD_ADDRESS
from bench.modes import INTROSPECT_PATH, MODES
from bench.server import FloorServer, Server, fresh_server
from deployment import REPO_ROOT
from tests.support.auth import basic
from tests.support.polling import wait_for

CALLER_ADDRESS = "198.51.100.10"


class FloodServer(Server):
    """The benchmark server, trusting loopback as a proxy so each client names its address."""

    def configure(self, extra: str, *, workers: int | None = None) -> None:
        super().configure(extra, workers=workers)
        text = self.toml.read_text().replace("[server]\n", '[server]\ntrusted_proxies = ["127.0.0.1"]\n', 1)
        self.toml.write_text(text)


def post(url: str, body: bytes, authorization: str, address: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (our loopback URL)
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Authorization", authorization)
    request.add_header("X-Forwarded-For", address)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def latencies(url: str, body: bytes, authorization: str, seconds: float, at_least: int = 30) -> list[float]:
    """Introspect in a loop for ``seconds`` and ``at_least`` requests; return their milliseconds."""
    found: list[float] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at or len(found) < at_least:
        started = time.perf_counter()
        status = post(url, body, authorization, CALLER_ADDRESS)
        found.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"the correct caller got {status}")
    return found


def flood_worker(url: str, stop_file: str, threads: int) -> None:
    """Run in a separate process: ``threads`` threads of bad Basic credentials until
    ``stop_file`` exists; print the count of each answer."""
    counts: dict[int, int] = {}
    lock = threading.Lock()
    stop = Path(stop_file)
    started = stop.with_suffix(".started")

    def run(index: int) -> None:
        number = 0
        while not stop.exists():
            number += 1
            bad = basic(f"intruder{index}-{number}", "wrong")
            status = post(url, urlencode({"token": "x"}).encode(), bad, FLOOD_ADDRESS)
            with lock:
                counts[status] = counts.get(status, 0) + 1
            started.touch()

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(" ".join(f"{status}:{count}" for status, count in sorted(counts.items())), flush=True)


def wait_throttled(url: str, timeout: float) -> float:
    """Return the seconds until the flood's address is answered 429 (the throttle engaged)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        # A new identity each time: only the address's limit answers it 429.
        bad = basic(f"probe-{time.monotonic()}", "wrong")
        if post(url, urlencode({"token": "x"}).encode(), bad, FLOOD_ADDRESS) == 429:
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"the flood was not throttled within {timeout} s")


def _wait_for(path: Path, timeout: float) -> None:
    if not wait_for(path.exists, timeout):
        raise RuntimeError(f"the flood did not start within {timeout} s")


def measure(server: Server, callers: data.Callers, args, *, throttle: bool | None) -> dict:
    """One run: the correct caller alone, then under the flood. ``throttle`` None: ``server`` is
    the floor (bench/floor.py), which answers the flood 429 from its first request."""
    mode = MODES["user"]
    if throttle is not None:
        table = f"per_address = {args.per_address}\n" if throttle else "enabled = false\n"
        server.configure(workers=args.workers, extra=mode.config + "\n[throttle]\n" + table)
    else:
        server.workers = args.workers
    server.start()
    try:
        url = server.base_url + INTROSPECT_PATH
        body = urlencode({"token": data.raw_token(0)}).encode()
        authorization = mode.authorization(callers)
        latencies(url, body, authorization, args.warmup)
        unloaded = latencies(url, body, authorization, args.duration)
        stop_file = server.folder / "stop-flood"
        stop_file.unlink(missing_ok=True)
        stop_file.with_suffix(".started").unlink(missing_ok=True)
        flood = subprocess.Popen(
            [sys.executable, "-m", "bench.flood", "--flood-worker", url, str(stop_file), str(args.threads)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(stop_file.with_suffix(".started"), 60)
            # Until the limits are reached every bad credential costs a hash: the steady state
            # of a flood is what a correct caller lives with.
            engaged = wait_throttled(url, args.engage_timeout) if throttle is not False else None
            # Every worker's caller cache again (it expired while the flood was being throttled).
            latencies(url, body, authorization, args.warmup, at_least=0)
            # Unthrottled, each request waits on hashes for seconds: a few make the median.
            meter = CpuMeter(server, others={"flooder": flood.pid, "caller": os.getpid()})
            before, began = meter.snapshot(), time.monotonic()
            flooded = latencies(
                url, body, authorization, args.duration, at_least=5 if throttle is False else 30
            )
            seconds = time.monotonic() - began
            cores = {kind: used / seconds for kind, used in meter.used(before, meter.snapshot()).items()}
        finally:
            stop_file.touch()
        flood_answers = flood.communicate(timeout=120)[0].strip()
    finally:
        server.stop()
    return {
        "run": {True: "throttle on", False: "throttle off", None: "floor"}[throttle],
        "unloaded_ms": statistics.median(unloaded),
        "flooded_ms": statistics.median(flooded),
        "flood_answers": flood_answers,
        "engaged_s": engaged,
        "cores": cores,  # CPU used while flooded, in cores: workers, PostgreSQL, flooder, caller
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--flood-worker"]:
        flood_worker(argv[1], argv[2], int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench flood", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement [8]")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up [2]")
    parser.add_argument("--threads", type=int, default=16, help="flooding threads [16]")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers [3]")
    parser.add_argument(
        "--engage-timeout", type=float, default=300, help="seconds to wait for the 429s [300]"
    )
    parser.add_argument(
        "--per-address", type=int, default=100, help="[throttle] per_address: failures before the 429s [100]"
    )
    parser.add_argument("--no-compare", action="store_true", help="skip the run without throttling")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args(argv)
    server = fresh_server(args.database_url, "identity-flood-", FloodServer)
    folder, database = server.folder, server.database
    try:
        callers = data.create_callers(server)
        data.load_tokens(server, callers, 0, 1)
        results = [measure(server, callers, args, throttle=True)]
        if not args.no_compare:
            results.append(measure(server, callers, args, throttle=False))
        (folder / "floor").mkdir()
        results.append(measure(FloorServer(folder / "floor", database), callers, args, throttle=None))
    finally:
        server.stop()
        database.drop()
        shutil.rmtree(folder, ignore_errors=True)
    for result in results:
        ratio = result["flooded_ms"] / result["unloaded_ms"]
        print(
            f"{result['run']}: correct caller median "
            f"{result['unloaded_ms']:.1f} ms unloaded, {result['flooded_ms']:.1f} ms under "
            f"{args.threads} flooding threads = {ratio:.2f}x"
        )
        used = ", ".join(f"{kind} {share:.2f}" for kind, share in result["cores"].items())
        print(f"  cores used while flooded ({os.cpu_count()} on this machine): {used}")
        if result["run"] == "throttle on":
            print(
                f"  target <= 2x: {'met' if ratio <= 2 else 'MISSED'}; 429s from {result['engaged_s']:.1f} s"
            )
        if result["run"] == "floor":
            print("  (no Django, no throttle: no Python server with these settings beats it here)")
        print(f"  flood answers (status:count): {result['flood_answers']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
