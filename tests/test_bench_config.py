"""The benchmark's servers accept what the benchmark does to them (bench/ is not run by CI)."""

from __future__ import annotations

from bench import lag
from bench.__main__ import parse_args
from deployment import load


def test_a_lag_run_may_rotate_keys_as_often_as_it_changes(tmp_path):
    """Regression: [oauth] max_published_signing_keys (4 by default) refused the lag run's fifth
    key rotation, and the benchmark stopped at its change-lag part."""
    toml = tmp_path / "deployment.toml"
    toml.write_text('[super_admin]\npassword = "unused"\n\n' + lag.CONFIG)
    published = load(toml).oauth.max_published_signing_keys
    assert published > parse_args(["--changes", "1000"]).changes + 1
