"""The change lag: from a change acknowledged by instance 1 until every worker of instance 2
answers accordingly (docs/performance.md, docs/scaling.md).

Two instances of the server run on the benchmark's database. For each change, every worker of
instance 2 is first seen answering the old state (so it has it cached), then the change is made
and acknowledged: a revocation through instance 1's revocation endpoint (acknowledged when its
response arrives), a password change and a key rotation through the product's own code in a
separate writer process (bench/writer.py; acknowledged when it has committed). Several threads
then poll instance 2; each answer carries its worker and the moment the request reached that
worker (bench/settings.py). A worker's lag is the start of its first request answered in the
new state, minus the acknowledgement; the change's lag is its slowest worker's. A worker that
answers the old state again afterwards is counted as a violation.

A password change's new answer needs one password hash (the old credential is verified again,
and refused): the lag is when the worker started that request, not when the hash finished.
"""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode

from bench.data import TENANT, USER, Callers
from bench.server import Server
from deployment import REPO_ROOT
from tests.support.auth import basic

TARGET_P99_MS = 50.0
POLLERS = 4
TIMEOUT = 10.0

CONFIG = (
    "[[resource.access_control]]\n"
    f"context = '/t/{TENANT.replace('.', '[.]')}/oauth2/(introspect|token|revoke)'\n"
    "secure = false\n"
    'allowed_auth_handlers = ["BasicAuthentication", "BasicClientAuthentication"]\n\n'
    # The poll presents the old password many times: not a flood to refuse.
    "[throttle]\nenabled = false\n\n"
    # Every key rotation of the run stays published (their tokens may be live): no cap to refuse.
    "[oauth]\nmax_published_signing_keys = 1000000\n"
)
PREFIX = f"/t/{TENANT}/oauth2"


def _post(server: Server, path: str, form: dict, authorization: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 URL)
        server.base_url + path, data=urlencode(form).encode(), method="POST"
    )
    request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


def _kid(jwt: str) -> str:
    header = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


class _Observation:
    """What the pollers saw of one change: per worker, its first new answer and any old after."""

    def __init__(self, workers: int):
        self.workers = workers
        self.first_new: dict[str, float] = {}
        self.old: dict[str, float] = {}  # latest start of an old answer
        self.lock = threading.Lock()

    def record(self, worker: str, started: float, new: bool) -> None:
        with self.lock:
            if new:
                self.first_new[worker] = min(started, self.first_new.get(worker, started))
            else:
                self.old[worker] = max(started, self.old.get(worker, started))

    def complete(self) -> bool:
        return len(self.first_new) >= self.workers

    def violations(self) -> int:
        return sum(1 for worker, start in self.first_new.items() if self.old.get(worker, 0) > start)


def _poll(server: Server, probe: Callable[[], tuple[bool, dict]], until: Callable[[], bool], seen) -> None:
    """Run POLLERS threads calling ``probe`` on ``server`` until ``until()``; feed ``seen``."""
    deadline = time.monotonic() + TIMEOUT

    def loop() -> None:
        while not until() and time.monotonic() < deadline:
            new, headers = probe()
            seen(headers["X-Bench-Worker"], float(headers["X-Bench-Start"]), new)

    threads = [threading.Thread(target=loop) for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _lag(second: Server, probe, change: Callable[[], float]) -> tuple[float | None, int]:
    """Warm every worker of ``second`` on the old state, make the change, return (lag ms, violations)."""
    warm: set[str] = set()
    _poll(second, probe, lambda: len(warm) >= second.workers, lambda worker, _, new: warm.add(worker))
    acknowledged = change()
    observed = _Observation(second.workers)
    _poll(second, probe, observed.complete, observed.record)
    # A moment more, to see any worker answering the old state again.
    settle = time.monotonic() + 0.05
    _poll(second, probe, lambda: time.monotonic() > settle, observed.record)
    if not observed.complete():
        return None, observed.violations()
    slowest = max(observed.first_new.values())
    return max(0.0, slowest - acknowledged) * 1000, observed.violations()


def measure(server: Server, callers: Callers, *, changes: int, say) -> dict:
    """Measure ``changes`` changes of each kind; return their lags (ms) and a summary."""
    client = basic(callers.client_id, callers.client_secret)
    jwt_client = json.loads(
        server.manage(
            *("createclient", "--tenant", TENANT, "--name", "bench-jwt"),
            *("--grant-types", "client_credentials", "--token-format", "jwt"),
        ).stdout
    )
    jwt_auth = basic(jwt_client["client_id"], jwt_client["client_secret"])
    (server.folder / "second").mkdir(exist_ok=True)
    second = Server(server.folder / "second", server.database)
    second.configure(workers=server.workers, extra=CONFIG)
    writer = subprocess.Popen(
        [sys.executable, "-m", "bench.writer"],
        cwd=REPO_ROOT,
        env=server.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def write(**command) -> dict:
        writer.stdin.write(json.dumps({"tenant": TENANT, **command}) + "\n")
        writer.stdin.flush()
        return json.loads(writer.stdout.readline())

    probe = _Probes(server, second, client, jwt_auth, write)
    password = callers.password
    lags: dict[str, list[float | None]] = {"revocation": [], "password": [], "rotation": []}
    violations = 0
    server.start()
    second.start()
    try:
        for number in range(changes):
            token = probe.issue()
            new_password = secrets.token_urlsafe(16)
            for kind, (check, change) in {
                "revocation": probe.revocation(token),
                "password": probe.password(token, password, new_password),
                "rotation": probe.rotation(),
            }.items():
                lag, bad = _lag(second, check, change)
                lags[kind].append(lag)
                violations += bad
            password = new_password
            if (number + 1) % 10 == 0:
                say(f"  change lag: {number + 1}/{changes} of each kind")
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
        second.stop()
        server.stop()
    return {"lags_ms": lags, "violations": violations, "summary": summarize(lags)}


class _Probes:
    """For each kind of change: how instance 2 is asked, and how instance 1 (or the writer) changes."""

    def __init__(self, first: Server, second: Server, client: str, jwt_client: str, write):
        self.first, self.second, self.client, self.jwt_client, self.write = (
            first,
            second,
            client,
            jwt_client,
            write,
        )

    def issue(self) -> str:
        _, issued, _ = _post(self.first, f"{PREFIX}/token", {"grant_type": "client_credentials"}, self.client)
        return issued["access_token"]

    def revocation(self, token: str):
        """Revoked through instance 1's endpoint: instance 2 answers inactive."""

        def check():
            _, body, headers = _post(self.second, f"{PREFIX}/introspect", {"token": token}, self.client)
            return body == {"active": False}, headers

        def change() -> float:
            _post(self.first, f"{PREFIX}/revoke", {"token": token}, self.client)
            return time.monotonic()

        return check, change

    def password(self, token: str, old: str, new: str):
        """The caller's password changed: instance 2 refuses the old one."""
        caller = basic(f"{USER}@{TENANT}", old)

        def check():
            status, _, headers = _post(self.second, f"{PREFIX}/introspect", {"token": token}, caller)
            return status == 401, headers

        return check, lambda: self.write(change="password", username=USER, password=new)["done"]

    def rotation(self):
        """The tenant's key rotated: instance 2 signs new tokens with the new key."""
        rotated: dict = {}

        def check():
            _, body, headers = _post(
                self.second, f"{PREFIX}/token", {"grant_type": "client_credentials"}, self.jwt_client
            )
            return _kid(body["access_token"]) == rotated.get("kid"), headers

        def change() -> float:
            rotated.update(self.write(change="rotate"))
            return rotated["done"]

        return check, change


def summarize(lags: dict[str, list[float | None]]) -> dict:
    """p50/p99/max per kind and over all changes; a change never seen counts as missed."""
    summary = {}
    every = [lag for values in lags.values() for lag in values]
    for kind, values in [*lags.items(), ("all", every)]:
        seen = sorted(lag for lag in values if lag is not None)
        if not seen:
            continue
        summary[kind] = {
            "changes": len(values),
            "missed": len(values) - len(seen),
            "p50_ms": round(statistics.median(seen), 2),
            "p99_ms": round(seen[min(len(seen) - 1, int(len(seen) * 0.99))], 2),
            "max_ms": round(seen[-1], 2),
        }
    return summary


def targets(result: dict) -> list[dict]:
    every = result.get("summary", {}).get("all")
    if not every:
        return []
    met = every["p99_ms"] <= TARGET_P99_MS and not every["missed"] and not result["violations"]
    return [
        {
            "target": "change lag p99 ms, every worker of a second instance",
            "value": every["p99_ms"],
            "op": "<=",
            "goal": TARGET_P99_MS,
            "met": met,
        }
    ]


def table(result: dict) -> str:
    if not result:
        return "change lag: not measured (--changes 0)"
    lines = [f"{'change':<11}  {'changes':>7}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  missed"]
    for kind, row in result["summary"].items():
        lines.append(
            f"{kind:<11}  {row['changes']:>7}  {row['p50_ms']:>7.2f}  {row['p99_ms']:>7.2f}  "
            f"{row['max_ms']:>7.2f}  {row['missed']}"
        )
    lines.append(f"workers answering an old state after the new one: {result['violations']}")
    return "\n".join(lines)
