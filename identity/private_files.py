"""Keep what the server writes readable by its owner only: ``var/`` 0700, its files 0600.

``var/`` holds the SQLite database (and its ``-wal``/``-shm`` files), the TLS key, the generated
secret key and any log. Every process that may write there (the server's master, its workers,
``manage.py migrate``) calls :func:`make_private` first: the umask makes new files owner-only,
and what an older version left readable by others is narrowed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from deployment import Deployment

UMASK = 0o077
DIR_MODE, FILE_MODE = 0o700, 0o600


def make_private(deployment: Deployment) -> None:
    """Set an owner-only umask and make ``var/`` and the database and TLS files owner-only."""
    os.umask(UMASK)
    var = deployment.resolve_path("var")
    var.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    paths: list[Path] = [var, *var.rglob("*")]
    if deployment.database.identity_db.type == "sqlite":
        database = deployment.resolve_path(deployment.database.identity_db.url)
        paths += [database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm"))]
    if deployment.server.tls:
        paths.append(deployment.resolve_path(deployment.server.tls_key))
    for path in paths:
        _narrow(path)


def _narrow(path: Path) -> None:
    if path.is_symlink() or not path.exists():
        return  # a link's target is the operator's to protect
    mode = DIR_MODE if path.is_dir() else FILE_MODE
    if path.stat().st_mode & 0o777 & ~mode:
        # A file that is not ours (the operator's) is left as it is.
        with contextlib.suppress(PermissionError):
            path.chmod(path.stat().st_mode & mode)
