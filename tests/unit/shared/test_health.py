"""Health routes: JSON bodies end with a newline; each service's /metrics shows its own series."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from shared.health import health_routes, scope_metrics
from shared.metrics import ServiceMetrics, service_registry


async def _ready() -> dict[str, str]:
    return {"database": "ok", "broker": "ok"}


async def _not_ready() -> dict[str, str]:
    return {"database": "ok", "broker": "error: ConnectionError"}


def _app(readiness: object = _ready) -> FastAPI:
    app = FastAPI()
    app.include_router(health_routes(readiness))  # type: ignore[arg-type]
    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("path", "readiness", "status"),
    [
        ("/readyz", _ready, 200),
        ("/readyz", _not_ready, 503),
        ("/healthz", _ready, 200),
    ],
)
async def test_json_bodies_end_with_a_newline(path: str, readiness: object, status: int) -> None:
    response = await _get(_app(readiness), path)
    assert response.status_code == status
    assert response.text.endswith("}\n")
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json()["status"] in ("ok", "unavailable")


def _shared_registry() -> CollectorRegistry:
    """What `coord up`'s one process holds: the series of all three services."""
    registry = CollectorRegistry()
    outbox = Counter("t_outbox_published", "by service", ["service"], registry=registry)
    consumed = Counter("t_consumed", "by queue", ["queue", "outcome"], registry=registry)
    plain = Histogram("t_process_wide", "no owner", registry=registry)
    for service in ("ingest", "router", "notifier"):
        outbox.labels(service=service).inc()
    consumed.labels(queue="router.inbox", outcome="ok").inc()
    consumed.labels(queue="ingest.views", outcome="ok").inc()
    consumed.labels(queue="amq.gen-x", outcome="ok").inc()  # server-named: nobody's by name
    plain.observe(1)
    return registry


def test_a_service_sees_its_own_series_and_the_process_wide_ones() -> None:
    view = CollectorRegistry()
    view.register(ServiceMetrics("router", source=_shared_registry()))
    text = generate_latest(view).decode()
    assert 't_outbox_published_total{service="router"} 1.0' in text
    assert 'service="ingest"' not in text
    assert 'service="notifier"' not in text
    assert 'queue="router.inbox"' in text
    assert 'queue="ingest.views"' not in text
    assert 'queue="amq.gen-x"' in text  # never hidden when it cannot be attributed
    assert "t_process_wide_count 1.0" in text
    assert 'coord_service_info{service="router"} 1.0' in text


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        ServiceMetrics("billing")


async def test_each_app_labels_its_metrics_with_its_service() -> None:
    apps = {name: _app() for name in ("ingest", "router", "notifier")}
    for name, app in apps.items():
        scope_metrics(app, name)
    for name, app in apps.items():
        text = (await _get(app, "/metrics")).text
        assert f'coord_service_info{{service="{name}"}} 1.0' in text
        assert text.count("coord_service_info{") == 1


async def test_an_unscoped_app_shows_the_whole_process() -> None:
    text = (await _get(_app(), "/metrics")).text
    assert "coord_service_info" not in text
    assert "python_info" in text


@pytest.mark.parametrize(
    ("service", "shown", "hidden"),
    [
        ("ingest", "coord_alerts_accepted_total", "coord_notifications_total"),
        ("router", "coord_timer_lateness_seconds_count", "coord_alerts_accepted_total"),
        ("notifier", "# TYPE coord_notifications_total", "coord_alerts_accepted_total"),
    ],
)
def test_the_services_families_are_theirs_alone(service: str, shown: str, hidden: str) -> None:
    text = generate_latest(service_registry(service)).decode()
    assert shown in text
    assert hidden not in text
