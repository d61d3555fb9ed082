"""Fixtures shared by the suite."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from django.conf import settings
from django.core.signals import request_started
from django.db import connection, transaction
from django.test import override_settings

from identity import settings as production_settings
from tests.support.server import RunningServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "long(seconds): a file of many seconds (subprocesses, fuzzing, servers), handed to a worker "
        "first; the heaviest (about ``seconds`` on one worker) before the others",
    )


# What a file that starts servers or is marked ``long`` without its seconds weighs.
LONG_SECONDS = 2.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the long files first, the heaviest first, each file's tests in their order.

    ``make test`` gives each file whole to one worker (``--dist loadfile``), in this order: the
    heaviest files start at once, and the short in-process ones fill the end of the run, so no
    worker idles long while another finishes a long file (the longest-first rule of scheduling
    jobs on parallel machines).
    """
    weight: dict = {}
    for item in items:
        weight[item.path] = max(weight.get(item.path, 0.0), _seconds(item))
    items.sort(key=lambda item: -weight[item.path])  # stable: each file stays in its order


def _seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("long")
    if marker is not None and marker.args:
        return float(marker.args[0])
    if marker is not None or item.get_closest_marker("blackbox") or SERVERS.intersection(item.fixturenames):
        return LONG_SECONDS
    return 0.0


SERVERS = {"demo_server", "server_factory"}  # the fixtures that start real servers


@pytest.fixture
def deployment_override():
    """Return a function that runs the test with changed deployment.toml sections.

    ``deployment_override(oauth=replace(...))`` replaces top-level sections of settings.DEPLOYMENT.
    """
    overrides = []

    def apply(**sections):
        deployment = dataclasses.replace(settings.DEPLOYMENT, **sections)
        override = override_settings(DEPLOYMENT=deployment)
        override.enable()
        overrides.append(override)
        return deployment

    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def production_hashers():
    """The shipped PASSWORD_HASHERS (the test settings use a fast one for user passwords)."""
    with override_settings(PASSWORD_HASHERS=production_settings.PASSWORD_HASHERS):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Forget everything cached: a rolled-back row must not outlive its test.

    (On SQLite a rolled-back row's primary key is given again, and entries are tagged by key.)
    """
    from tenants.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def build_once(django_db_setup, django_db_blocker):
    """Return ``build(make)``: call ``make()`` once for the module, in a transaction rolled back after it.

    Tests still take ``db``; their own changes roll back to what ``make`` built (like setUpTestData).
    """
    atomics = []

    def build(make):
        with django_db_blocker.unblock():
            atomic = transaction.atomic()
            atomic.__enter__()
            atomics.append(atomic)
            built = make()
            # Run the deferred foreign-key checks now: pending, they would make a flush of the
            # module's transactional tests (TRUNCATE) fail on PostgreSQL.
            connection.check_constraints()
            return built

    yield build
    with django_db_blocker.unblock():
        for atomic in reversed(atomics):
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


DEMO_CONFIG = "[demo]\nenabled = true\n"


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """One real server of the shipped configuration (demo data on), shared by the black-box
    modules of this test process that need nothing else: each only adds data of its own names
    (users, clients) and none changes its configuration. Started on first use."""
    server = RunningServer(tmp_path_factory.mktemp("demo-server"), DEMO_CONFIG)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory):
    """Start real servers with extra deployment.toml text; all are stopped after the module."""
    servers: list[RunningServer] = []

    def start(extra_config: str = DEMO_CONFIG) -> RunningServer:
        server = RunningServer(tmp_path_factory.mktemp("server"), extra_config)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def django_saw():
    """Count the requests that reached Django (its ``request_started`` signal)."""
    seen = []

    def count(**kwargs):
        seen.append(1)

    request_started.connect(count)
    yield seen
    request_started.disconnect(count)


@pytest.fixture(autouse=True)
def _audit_reaches_caplog():
    """Let audit records reach pytest's caplog too (the audit logger does not propagate)."""
    logger = logging.getLogger("audit")
    propagate = logger.propagate
    logger.propagate = True
    yield
    logger.propagate = propagate
