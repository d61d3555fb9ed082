"""Whether a deployment.toml may be served: at start-up (``identity.server``,
``manage.py checkdeployment``) and on ``SIGHUP``, before the running configuration is replaced.

A file is refused when it does not validate, or when the introspection scripts it names cannot
be imported (tried in a child process, as a worker would: the master imports no operator code).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from deployment import ENV_VAR, REPO_ROOT, Deployment, DeploymentError, load

# The master process's log: these lines are about the server, not about the loader.
logger = logging.getLogger("identity.server")


def script_problem(deployment: Deployment) -> str:
    """Return why a worker could not import ``deployment``'s introspection scripts, or "".

    Workers import them as Django starts (``introspection.apps``), and a worker that cannot
    boot stops the whole server; so a child process tries first, as a worker would.
    """
    if not deployment.oauth.introspect.script:
        return ""
    env = {"DJANGO_SETTINGS_MODULE": "identity.settings", **os.environ, ENV_VAR: str(deployment.path)}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode == 0:
        return ""
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"Django did not start (exit code {done.returncode})"


def validate_reload(path) -> bool:
    """Return whether the file at ``path`` may replace the running configuration; log why not."""
    try:
        problem = script_problem(load(path))
    except DeploymentError as exc:
        problem = str(exc)
    if problem:
        logger.error("SIGHUP: deployment.toml refused, the running configuration stays: %s", problem)
        return False
    return True
