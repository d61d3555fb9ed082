"""Serve the project with gunicorn, as deployment.toml's ``[server]`` says (docs/quickstart.md,
docs/deployment-toml.md).

``python -m identity.server`` validates the configuration, makes the self-signed certificate on
first use and runs gunicorn. The master process never imports Django: each worker imports
``identity.wsgi`` after it is forked, so a restarted worker reads the configuration anew.

On ``SIGHUP`` the master re-reads deployment.toml: a good file is applied by restarting the
workers gracefully; a bad one is refused, logged, and the running workers keep the old one
(``deployment.reload`` says which is which).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from deployment import Deployment, DeploymentError, default_path, load
from deployment.reload import script_problem, validate_reload
from identity.private_files import make_private
from identity.tls import ensure_self_signed

logger = logging.getLogger("identity.server")


METRICS_DIR = "var/metrics"  # prometheus_client's multiprocess files, relative to deployment.toml
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(deployment: Deployment) -> Path:
    """Empty the metrics folder (the samples of a previous run are not this run's) and point the
    workers at it, before they fork: prometheus_client reads the variable when it is imported."""
    folder = deployment.resolve_path(METRICS_DIR)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ[METRICS_ENV] = str(folder)
    # Imported here, once the variable is set, in the master's main flow: ``child_exit`` runs in
    # the SIGCHLD handler, where a first import could be interrupted by the next SIGCHLD (old
    # workers exiting together on a reload) and entered again half done. The master then died
    # of an ImportError, and the server with it.
    import prometheus_client.multiprocess  # noqa: F401

    return folder


def child_exit(server, worker) -> None:
    """Gunicorn hook: drop a dead worker's live gauges (its counters stay in the totals)."""
    from prometheus_client import multiprocess  # imported already (prepare_metrics_dir)

    multiprocess.mark_process_dead(worker.pid)


class ReloadCheckingArbiter(Arbiter):
    def handle_hup(self):
        # The check may run a child process. The arbiter reaps every child on SIGCHLD, and
        # would take its exit status (and log it as a worker's): hold SIGCHLD until it is done.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            valid = validate_reload(default_path())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        if valid:
            super().handle_hup()


class IdentityServer(BaseApplication):
    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        super().__init__()

    def load_config(self):
        server = self.deployment.server
        self.cfg.set("bind", f"{server.hostname}:{server.port}")
        self.cfg.set("workers", server.workers)
        self.cfg.set("worker_class", "sync")
        self.cfg.set("proc_name", "identity-server")
        # Only [server] trusted_proxies may say a request came over TLS (X-Forwarded-Proto).
        self.cfg.set("forwarded_allow_ips", ",".join(server.trusted_proxies))
        # No access log: the request line of a GET introspection carries the token
        # (docs/introspection.md#the-request).
        self.cfg.set("accesslog", None)
        self.cfg.set("errorlog", "-")
        # A header line over [server] max_header_bytes is answered 400 by gunicorn itself.
        self.cfg.set("limit_request_field_size", server.max_header_bytes)
        self.cfg.set("child_exit", child_exit)
        if server.tls:
            self.cfg.set("certfile", str(self.deployment.resolve_path(server.tls_cert)))
            self.cfg.set("keyfile", str(self.deployment.resolve_path(server.tls_key)))

    def reload(self):
        # Only called after ReloadCheckingArbiter validated the file.
        self.deployment = load()
        super().reload()

    def load(self):
        from django.core.servers.basehttp import get_internal_wsgi_application

        import identity.wsgi  # noqa: F401 (sets Django up and starts hearing changes)

        return get_internal_wsgi_application()  # settings.WSGI_APPLICATION

    def run(self):
        ReloadCheckingArbiter(self).run()


def main() -> int:
    # The master's own log; workers configure logging through Django's LOGGING.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        deployment = load()
    except DeploymentError as exc:
        print(f"identity-server: not starting: {exc}", file=sys.stderr)
        return 1
    problem = script_problem(deployment)
    if problem:
        print(f"identity-server: not starting: {problem}", file=sys.stderr)
        return 1
    make_private(deployment)  # before the certificate and key are written
    server = deployment.server
    if server.tls:
        cert = deployment.resolve_path(server.tls_cert)
        key = deployment.resolve_path(server.tls_key)
        try:
            created = ensure_self_signed(cert, key, server.hostname)
        except FileNotFoundError as exc:
            print(f"identity-server: not starting: {exc}", file=sys.stderr)
            return 1
        if created:
            logger.info("created a self-signed certificate for %s in %s", server.hostname, cert.parent)
    prepare_metrics_dir(deployment)
    logger.info("serving %s://%s:%s/ (admin at /admin/)", deployment.scheme, server.hostname, server.port)
    IdentityServer(deployment).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
