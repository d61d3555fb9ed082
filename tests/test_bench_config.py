"""The benchmark's servers accept what the benchmark does to them (bench/ is not run by CI)."""

from __future__ import annotations

from bench import lag
from bench.__main__ import parse_args
from bench.server import bench_database
from deployment import load
from identity.database import postgres_settings


def test_a_lag_run_may_rotate_keys_as_often_as_it_changes(tmp_path):
    """Regression: [oauth] max_published_signing_keys (4 by default) refused the lag run's fifth
    key rotation, and the benchmark stopped at its change-lag part."""
    toml = tmp_path / "deployment.toml"
    toml.write_text('[super_admin]\npassword = "unused"\n\n' + lag.CONFIG)
    published = load(toml).oauth.max_published_signing_keys
    assert published > parse_args(["--changes", "1000"]).changes + 1


def test_the_database_config_and_a_socket_reach_the_servers_file(tmp_path):
    """``--database-config`` lines and a Unix-socket admin URL end up in the server's valid
    ``[database.identity_db]`` (the prepared-statement comparison of docs/performance.md)."""
    args = parse_args(["--database-config", "prepared_statements = false"])
    database = bench_database("postgresql://postgres@:5433/postgres?host=/run/pg", args.database_config)
    toml = tmp_path / "deployment.toml"
    toml.write_text('[super_admin]\npassword = "unused"\n\n' + database.toml())
    db = load(toml).database.identity_db
    assert db.prepared_statements is False
    assert postgres_settings(db)["HOST"] == "/run/pg" and postgres_settings(db)["PORT"] == "5433"
    assert postgres_settings(db)["NAME"] == database.name and postgres_settings(db)["USER"] == "postgres"
