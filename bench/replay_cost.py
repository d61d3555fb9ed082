"""``python -m bench.replay_cost``: the CPU that observability costs a replayed introspection
answer, ``introspection/replay.py`` ``serve()`` alone, in one process (docs/operations.md#cost).

A child process runs on a deployment of its own (SQLite, the server's JSON lines to a file, the
audit file, multiprocess metrics files, as a gunicorn worker has them) and serves one kept
answer over and over, alternating blocks with ``[observability] enabled`` on and off. The batch
thread's work (the lines handed over, the counts) is done in the same thread every ``--every``
requests, as the thread does every 0.1 s, so that ``time.thread_time`` counts all of it. No
server, no HTTP, no database: what it measures is what changes when observability does, and a
shared machine's other processes move it less than a throughput.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deployment import REPO_ROOT
from deployment.schema import ENV_VAR

MARKER = "REPLAY_COST "
DEPLOYMENT = '[server]\ndebug = false\n[super_admin]\npassword = "bench"\n'
DECISION = {
    "caller_kind": "client",
    "caller": "rgfKVdnMQnJSSr_pKFTxj3apiwYa",
    "caller_tenant": "carbon.super",
    "path_tenant": "carbon.super",
    "token_tenant": "carbon.super",
    "token_id": "e32b0c31-6318-4aae-a1f7-a1ce51623d3b",
    "gate": "passed",
    "outcome": "active",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="on/off alternations [10]")
    parser.add_argument("--batch", type=int, default=5000, help="requests per block [5000]")
    parser.add_argument("--every", type=int, default=500, help="requests between two batch turns [500]")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> dict:
    """Run the child on a deployment of its own; return its result."""
    with tempfile.TemporaryDirectory(prefix="identity-bench-replay-") as folder:
        (Path(folder) / "metrics").mkdir()
        (Path(folder) / "deployment.toml").write_text(DEPLOYMENT)
        env = {
            **os.environ,
            ENV_VAR: str(Path(folder) / "deployment.toml"),
            "PROMETHEUS_MULTIPROC_DIR": str(Path(folder) / "metrics"),
            "DJANGO_SETTINGS_MODULE": "identity.settings",
        }
        argv = [sys.executable, "-m", "bench.replay_cost", "--child"]
        argv += ["--rounds", str(args.rounds), "--batch", str(args.batch), "--every", str(args.every)]
        with (Path(folder) / "server.log").open("w") as log:  # the console's lines, as a worker's
            done = subprocess.run(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        line = next((line for line in done.stdout.splitlines() if line.startswith(MARKER)), None)
        if done.returncode or line is None:
            raise RuntimeError(
                f"the child failed ({done.returncode}): {(Path(folder) / 'server.log').read_text()}"
            )
        return json.loads(line[len(MARKER) :])


def _child(rounds: int, batch: int, every: int) -> None:
    """Alternate blocks of ``serve()`` with observability on and off; print the CPU µs a request."""
    import logging

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    from identity import metrics
    from introspection.replay import Answer, serve

    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Content-Length", "300")]
    answer = Answer(
        "200 OK", headers, b"{}", "introspect", DECISION, "carbon.super", (), "/oauth2/introspect"
    )
    environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/oauth2/introspect"}
    deployment = settings.DEPLOYMENT
    off = override_settings(
        DEPLOYMENT=dataclasses.replace(
            deployment, observability=dataclasses.replace(deployment.observability, enabled=False)
        )
    )
    handlers = [*logging.getLogger("audit").handlers, *logging.getLogger().handlers]

    def started(status, response_headers, exc_info=None):
        return None

    def block(enabled: bool) -> tuple[float, float]:
        """Serve ``batch`` requests; return the µs a request of the requests and of the batch work."""
        if not enabled:
            off.enable()
        try:
            serving = working = 0.0
            for _ in range(batch // every):
                began = time.thread_time()
                for _ in range(every):
                    serve(environ, started, answer)
                turned = time.thread_time()
                for handler in handlers:  # what the batch thread does at each turn
                    handler.flush()
                metrics.tally.flush()
                serving, working = serving + turned - began, working + time.thread_time() - turned
            return serving * 1e6 / batch, working * 1e6 / batch
        finally:
            if not enabled:
                off.disable()

    block(True)
    block(False)
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for number in range(rounds):
        for enabled in (True, False) if number % 2 == 0 else (False, True):
            times[enabled].append(block(enabled))
    medians = {
        enabled: [statistics.median(each[part] for each in times[enabled]) for part in (0, 1)]
        for enabled in (True, False)
    }
    result = {
        name: {"request_us": round(medians[enabled][0], 2), "batch_us": round(medians[enabled][1], 2)}
        for enabled, name in ((True, "on"), (False, "off"))
    }
    cost = round(sum(medians[True]) - sum(medians[False]), 2)
    print(MARKER + json.dumps({**result, "cost_us": cost}), flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        _child(args.rounds, args.batch, args.every)
        return 0
    print(json.dumps(measure(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
