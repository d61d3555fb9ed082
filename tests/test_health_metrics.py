"""``/health/live``, ``/health/ready`` and ``/metrics`` in one process (the multiprocess scrape
under gunicorn is in test_operations_blackbox.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from deployment import REPO_ROOT
from identity import metrics
from tenants import changes
from tests.support.auth import basic
from tests.support.introspection import ENDPOINT, SUPER, make_token
from tests.support.polling import wait_for
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        world.access = make_token(world.clients[SUPER], scope="test1")
        world.foo = make_token(world.clients["foo.com"])
        return world

    return build_once(make)


def sample(name: str, **labels) -> float:
    metrics.tally.flush()  # as a scrape does
    return REGISTRY.get_sample_value(name, labels) or 0.0


class TestHealth:
    def test_live(self, client):
        """No tenant exists in this database: the probes still answer (no tenant resolution)."""
        assert client.get("/health").status_code == 503  # the tenant route needs the super tenant
        response = client.get("/health/live")
        assert (response.status_code, json.loads(response.content)) == (200, {"status": "UP"})
        assert "no-cache" in response["Cache-Control"]

    def test_ready(self, client):
        response = client.get("/health/ready")
        assert response.status_code == 200
        body = json.loads(response.content)
        assert body["status"] == "UP"
        assert body["checks"]["database"] == "UP"

    @pytest.mark.parametrize(("connected", "status"), [(True, 200), (False, 503)])
    def test_ready_names_a_disconnected_change_listener(self, client, monkeypatch, connected, status):
        """A process whose listener cannot hear other processes' changes is not ready."""
        listener = changes.Listener({})  # not started: its connected flag is ours to set
        if connected:
            listener.connected.set()
        monkeypatch.setattr(changes, "_listener", listener)
        response = client.get("/health/ready")
        assert response.status_code == status
        body = json.loads(response.content)
        assert body["checks"]["change_listener"] == ("UP" if connected else "DOWN")
        if not connected:
            assert body["failed"] == ["change_listener"]


class TestMetricsAccess:
    @pytest.mark.parametrize(
        ("address", "status"),
        [("127.0.0.1", 200), ("127.8.9.10", 200), ("::1", 200), ("10.0.0.1", 403), ("192.168.1.2", 403)],
    )
    def test_metrics_allowed(self, client, address, status):
        response = client.get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == status
        if status == 200:
            assert response["Content-Type"].startswith("text/plain")
        else:
            assert json.loads(response.content)["error"] == "access_denied"

    def test_configured_network(self, client, deployment_override):
        observability = dataclasses.replace(
            settings.DEPLOYMENT.observability, metrics_allowed=("10.0.0.0/8",)
        )
        deployment_override(observability=observability)
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403

    def test_through_a_trusted_proxy_the_client_address_decides(self, client, deployment_override):
        """A proxy on the same host (trusted, loopback) forwards every client from 127.0.0.1:
        the address it names is the one checked, as for throttling. Before, the proxy's own
        address let anyone on the internet read the metrics through it."""
        server = dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=("127.0.0.1",))
        deployment_override(server=server)
        forwarded = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
        assert client.get("/metrics", **forwarded).status_code == 403
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # the scraper itself

    def test_off(self, client, deployment_override):
        deployment_override(
            observability=dataclasses.replace(settings.DEPLOYMENT.observability, enabled=False)
        )
        response = client.get("/metrics")
        assert response.status_code == 404
        assert json.loads(response.content)["error"] == "not_found"


class TestCounters:
    @pytest.mark.parametrize(
        ("case", "outcome"),
        [("active", "active"), ("inactive", "inactive"), ("401", "401"), ("403", "403"), ("400", "400")],
    )
    def test_introspection_outcomes(self, client, world, case, outcome):
        token = {"active": world.access, "inactive": world.foo, "400": ""}.get(case, world.access)
        auth = {"401": basic("admin", "wrong"), "403": basic("nobody", "nobody-pw")}.get(case, ADMIN)
        before = sample("identity_introspections_total", outcome=outcome)
        client.post(ENDPOINT[SUPER], {"token": token}, secure=True, headers={"Authorization": auth})
        assert sample("identity_introspections_total", outcome=outcome) == before + 1

    def test_cache_hits_and_misses(self, client, world):
        before = {
            result: sample("identity_cache_lookups_total", kind="token", result=result)
            for result in ("hit", "miss")
        }
        for _ in range(2):
            client.post(
                ENDPOINT[SUPER], {"token": world.access}, secure=True, headers={"Authorization": ADMIN}
            )
        assert sample("identity_cache_lookups_total", kind="token", result="miss") == before["miss"] + 1
        assert sample("identity_cache_lookups_total", kind="token", result="hit") == before["hit"] + 1

    def test_change_bus_lag(self):
        from tenants import changes

        count = sample("identity_change_bus_lag_seconds_count")
        changes._apply(changes.encode([("u", 1)]))
        assert sample("identity_change_bus_lag_seconds_count") == count + 1

    def test_requests_by_endpoint_name_never_the_raw_path(self, client, world):
        labels = {"endpoint": "introspect", "method": "POST", "status": "200"}
        before = sample("identity_http_requests_total", **labels)
        latency = sample("identity_http_request_duration_seconds_count", endpoint="introspect")
        unmatched = sample("identity_http_requests_total", endpoint="unmatched", method="GET", status="404")
        client.post(ENDPOINT[SUPER], {"token": world.access}, secure=True, headers={"Authorization": ADMIN})
        client.post("/t/foo.com" + ENDPOINT[SUPER], {"token": world.access}, secure=True, headers={})
        client.get("/no/such/path-4b1e7", secure=True)
        assert sample("identity_http_requests_total", **labels) == before + 1
        assert sample("identity_http_request_duration_seconds_count", endpoint="introspect") >= latency + 2
        assert (
            sample("identity_http_requests_total", endpoint="unmatched", method="GET", status="404")
            == unmatched + 1
        )
        text = client.get("/metrics").content.decode()
        assert "path-4b1e7" not in text
        assert "foo.com" not in text
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {
            "identity_http_requests",
            "identity_http_request_duration_seconds",
            "identity_introspections",
            "identity_throttled_requests",
            "identity_cache_lookups",
            "identity_change_bus_lag_seconds",
            "identity_change_bus_reconnects",
            "identity_db_pool_connections",
        } <= names


class TestTally:
    """Counts are added to their counters together (identity/metrics.py Tally): by the batch
    thread within its interval, before a scrape, and when the process exits."""

    LABELS = {"endpoint": "tests.tally", "method": "GET", "status": "200"}

    def value(self) -> float:
        return REGISTRY.get_sample_value("identity_http_requests_total", self.LABELS) or 0.0

    def count(self) -> None:
        metrics.count(metrics.REQUESTS, *self.LABELS.values())

    def test_added_together_by_the_thread(self):
        before = self.value()
        self.count()
        self.count()
        assert wait_for(lambda: self.value() == before + 2, 2)

    def test_a_scrape_adds_what_waits_first(self, client):
        metrics.tally.flush_interval = 60
        try:
            before = self.value()
            self.count()
            assert self.value() == before  # waiting
            assert client.get("/metrics").status_code == 200
            assert self.value() == before + 1
        finally:
            metrics.tally.flush_interval = type(metrics.tally).flush_interval

    def test_counts_added_at_once_are_each_counted(self):
        """``Tally.add``: a counter child named n times is added n (the batch thread's way)."""
        metrics.tally.flush_interval = 60
        try:
            before = self.value()
            child = metrics.labelled(metrics.REQUESTS, *self.LABELS.values())
            metrics.tally.add([child, child, child], {}, time.monotonic())
            metrics.tally.flush()
            assert self.value() == before + 3
        finally:
            metrics.tally.flush_interval = type(metrics.tally).flush_interval

    def test_nothing_is_lost_when_the_process_exits(self, tmp_path):
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'; django.setup(); "
            "from identity import metrics; metrics.tally.flush_interval = 60; "
            "metrics.count(metrics.REQUESTS, 'tests.exit', 'GET', '200')"
        )
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env, cwd=REPO_ROOT)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        labels = {"endpoint": "tests.exit", "method": "GET", "status": "200"}
        assert registry.get_sample_value("identity_http_requests_total", labels) == 1

    def test_totals_kept_by_their_owner_are_added_once_each(self):
        """``Tally.count_totals`` (the cache's lookups): what a total moved is added at each
        flush, once, whoever flushes; a second registration adds nothing twice; what moved
        before a fork is the parent's to add, not the child's too."""
        child = (metrics.REQUESTS, tuple(self.LABELS.values()))
        counted = {child: 5}
        tally = metrics.Tally()
        tally.count_totals(counted.copy)
        tally.count_totals(counted.copy)  # the same function: one source
        before = self.value()
        tally.flush()
        assert self.value() == before  # counted before it was registered
        counted[child] = 8
        tally.flush()
        tally.flush()
        assert self.value() == before + 3
        counted[child] = 10
        tally.forget_waiting()  # as in a child just forked
        tally.flush()
        assert self.value() == before + 3

    def test_the_caches_lookups_reach_the_metric(self):
        """Each lookup is counted by the cache itself (an integer), added at the next flush."""
        from tenants.cache import cache

        def lookups(result: str) -> float:
            labels = {"kind": "tests.tally", "result": result}
            return REGISTRY.get_sample_value("identity_cache_lookups_total", labels) or 0.0

        before = (lookups("hit"), lookups("miss"))
        cache.lookup("tests.tally", "absent")
        cache.put(("tests.tally", "present"), 1, [("tests.tally", 1)])
        for _ in range(3):
            cache.lookup("tests.tally", "present")
        metrics.tally.flush()
        assert (lookups("hit"), lookups("miss")) == (before[0] + 3, before[1] + 1)

    @pytest.mark.parametrize("added", ["one at a time", "many at once"])
    def test_observations_added_together_read_as_observed_one_by_one(self, added):
        """The one use of prometheus_client's private histogram attributes (metrics._Observations):
        if a version changes how observe() fills the buckets, this fails. Many at once: the
        batch thread's way for replayed requests (``add_many``, bucketed by ``Counter``)."""
        amounts = [0.0, 0.0004, 0.001, 0.0010001, 0.003, 0.5, 1.0, 7.0, 10.0, 99.0, -1.0]

        def histogram():
            registry = CollectorRegistry()
            buckets = (0.001, 0.0025, 0.005, 0.01, 0.5, 1.0, 10.0)
            return registry, Histogram("h", "h", ["endpoint"], buckets=buckets, registry=registry)

        one_by_one, reference = histogram()
        together, batched = histogram()
        for amount in amounts:
            reference.labels("x").observe(amount)
        observations = metrics._Observations(batched.labels("x"))
        if added == "many at once":
            observations.add_many(amounts)
        else:
            for amount in amounts:
                observations.add(amount)
        observations.add_to_histogram()

        def samples(registry):
            return [
                (sample.name, sample.labels, sample.value)
                for family in registry.collect()
                for sample in family.samples
                if not sample.name.endswith("_created")
            ]

        assert samples(together) == samples(one_by_one)
