"""Fixtures shared by the suite."""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings
from django.test import override_settings

from tests.blackbox import RunningServer


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


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory):
    """Start real servers with extra deployment.toml text; all are stopped after the module."""
    servers: list[RunningServer] = []

    def start(extra_config: str = "[demo]\nenabled = true\n") -> RunningServer:
        server = RunningServer(tmp_path_factory.mktemp("server"), extra_config)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
