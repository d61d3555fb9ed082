"""The one error of the configuration loader."""

from __future__ import annotations

from pathlib import Path


class DeploymentError(Exception):
    """A deployment.toml that cannot be used, with where and why."""

    def __init__(
        self, message: str, *, path: Path | str | None = None, key: str = "", line: int | None = None
    ):
        self.message, self.path, self.key, self.line = message, path, key, line
        where = str(path or "deployment.toml")
        if line:
            where += f", line {line}"
        if key:
            where += f", key '{key}'"
        super().__init__(f"{where}: {message}")
