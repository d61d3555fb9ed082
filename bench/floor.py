"""Floors: what the least WSGI application served by gunicorn does, for two of the targets.

- ``flood_application`` (the floor of ``python -m bench flood``): no Django, no throttle, no
  database; a request from the flooding address (``FLOOD_ADDRESS`` in ``X-Forwarded-For``) is
  answered 429, any other 200, once its body is read. A correct caller's median under the flood
  against it is what no server in Python with the same gunicorn settings can beat on the
  machine: the flood's connections and its client's CPU alone slow the caller that much.
- ``lookup_application`` (the floor of a cold introspection): no Django; each request's token
  is looked up by its checksum in one prepared PostgreSQL query on a connection the worker
  keeps, and answered as JSON. ``python -m bench floor`` serves it and the bare Django view
  (bench/bare.py) alternately, as the benchmark serves the product: the ratio says how much of
  a first sight's cost a database round trip itself forces, and how much is the framework's.

docs/performance.md and docs/security.md give the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

FLOOD_ADDRESS = "203.0.113.66"
REFUSED = b'{"error": "too_many_requests", "error_description": "Too many failed attempts."}'
HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
# What a first sight reads: the columns of the product's lookup (introspection/lookup.py).
LOOKUP = (
    "SELECT expires, scope, user_id, application_id, tenant_id FROM identity_accesstoken "
    "WHERE token_checksum = %s LIMIT 1"
)
LOOKUP_DATABASE_URL = "BENCH_FLOOR_DATABASE_URL"  # the environment variable naming the database

StartResponse = Callable[..., Any]


def _body(environ: dict[str, Any]) -> bytes:
    return environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))


def flood_application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    _body(environ)
    if environ.get("HTTP_X_FORWARDED_FOR") == FLOOD_ADDRESS:
        start_response("429 Too Many Requests", [*HEADERS, ("Retry-After", "300")])
        return [REFUSED]
    start_response("200 OK", HEADERS)
    return [b'{"active": true}']


_connection = None  # the worker's, opened by its first request (after gunicorn's fork)


def lookup_application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    import psycopg

    global _connection
    if _connection is None:
        _connection = psycopg.connect(os.environ[LOOKUP_DATABASE_URL], autocommit=True)
    token = parse_qs(_body(environ).decode()).get("token", [""])[0]
    checksum = hashlib.sha256(token.encode()).hexdigest()
    row = _connection.execute(LOOKUP, (checksum,), prepare=True).fetchone()
    answer: dict[str, Any] = {"active": row is not None}
    if row is not None:
        answer.update(exp=int(row[0].timestamp()), scope=row[1])
    start_response("200 OK", HEADERS)
    return [json.dumps(answer).encode()]


def main(argv: list[str]) -> int:
    """``python -m bench floor``: the lookup floor against the bare Django view, same settings."""
    from bench import data
    from bench.load import require_wrk, run_wrk
    from bench.modes import INTROSPECT_PATH
    from bench.server import BareServer, FloorServer, fresh_server

    parser = argparse.ArgumentParser(prog="python -m bench floor", description=main.__doc__)
    parser.add_argument("--tokens", type=int, default=1_000, help="tokens loaded [1000]")
    parser.add_argument("--duration", type=float, default=6, help="seconds per measurement [6]")
    parser.add_argument("--rounds", type=int, default=3, help="alternations [3]")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers [cores]")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args(argv)
    require_wrk()
    server = fresh_server(args.database_url, "identity-floor-")
    folder, database = server.folder, server.database
    for name in ("bare", "floor"):
        (folder / name).mkdir()
    servers = {
        "bare": BareServer(folder / "bare", database),
        "floor": FloorServer(folder / "floor", database),
    }
    servers["floor"].application = "bench.floor:lookup_application"
    rates: dict[str, list[float]] = {name: [] for name in servers}
    try:
        callers = data.create_callers(server)
        data.load_tokens(server, callers, 0, args.tokens)
        token_file = data.write_token_file(folder / "tokens.txt", 0, args.tokens)
        servers["floor"].server_env = {LOOKUP_DATABASE_URL: database.url}
        for each in servers.values():
            each.workers = args.workers
            each.start()
        for number in range(args.rounds):
            for name in servers if number % 2 == 0 else reversed(servers):
                url = servers[name].base_url + INTROSPECT_PATH
                result = run_wrk(
                    url, token_file, "", seconds=args.duration, connections=args.connections, threads=1
                )
                if sum(result.errors.values()):
                    raise RuntimeError(f"{name} answered errors: {result.errors}")
                rates[name].append(result.rps)
                print(f"round {number + 1} {name:5}: {result.rps:7.0f} req/s", file=sys.stderr, flush=True)
    finally:
        for each in servers.values():
            each.stop()
        server.stop()
        database.drop()
        shutil.rmtree(folder, ignore_errors=True)
    bare, floor = statistics.median(rates["bare"]), statistics.median(rates["floor"])
    print(
        f"a lookup without Django: {floor:.0f} req/s, bare Django view {bare:.0f} req/s: {floor / bare:.2f}"
    )
    return 0
