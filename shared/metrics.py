"""Prometheus metrics shared by the services, and each service's view of them."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import InfoMetricFamily, Metric
from prometheus_client.registry import Collector

MESSAGES_CONSUMED = Counter(
    "coord_messages_consumed_total", "Messages consumed, by queue and outcome", ["queue", "outcome"]
)
HANDLER_SECONDS = Histogram("coord_handler_seconds", "Time to handle one message", ["queue"])
OUTBOX_PUBLISHED = Counter(
    "coord_outbox_published_total", "Outbox messages published and confirmed", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "coord_outbox_publish_failures_total", "Outbox relay rounds that failed", ["service"]
)
OUTBOX_PARKED_ROWS = Gauge(
    "coord_outbox_parked",
    "Outbox rows the broker refused for good, parked until `coord outbox retry|drop`",
    ["service"],
)
NOTIFICATIONS = Counter(
    "coord_notifications_total", "Notification outcomes", ["channel", "outcome"]
)
ALERTS_ACCEPTED = Counter("coord_alerts_accepted_total", "Alerts accepted over HTTP")
TIMER_LATENESS = Histogram(
    "coord_timer_lateness_seconds",
    "How late escalation timers fire after their due time",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)
# SMS cost per message sent: a page that needs 2 or 3 is a template or spelling to mend.
SMS_SEGMENTS = Histogram(
    "coord_sms_segments",
    "SMS segments per message handed to the gateway",
    ["coding"],
    buckets=(1, 2, 3, 4, 6),
)

SERVICES = ("ingest", "router", "notifier")


def _family(metric: Counter | Histogram) -> str:
    """The family name a metric is collected under (a counter's has no ``_total``)."""
    (family,) = metric.describe()
    name: str = family.name
    return name


# Families whose series belong to one service and say so by no label (for the others a
# `service` label, or a `queue` named after its consumer, says whose they are).
_FAMILY_OWNERS = {
    _family(ALERTS_ACCEPTED): "ingest",
    _family(TIMER_LATENESS): "router",
    _family(NOTIFICATIONS): "notifier",
}


def _owner(labels: dict[str, str]) -> str | None:
    """The service a labelled series belongs to; None for the process's own (and unknown)."""
    service = labels.get("service")
    if service in SERVICES:
        return service
    consumer = labels.get("queue", "").partition(".")[0]  # "router.inbox" -> "router"
    return consumer if consumer in SERVICES else None


class ServiceMetrics(Collector):
    """One service's view of a registry that several services of one process share.

    Under ``coord up`` the three services write to one process-wide registry, so each
    port would otherwise expose all three services' series and a scrape of every port
    would count them three times. This view keeps the series of ``service`` and the
    process's own (``process_*``, ``python_*``, and any it cannot attribute, which are
    never hidden), and adds ``coord_service_info{service=...}``.
    """

    def __init__(self, service: str, source: CollectorRegistry = REGISTRY) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        self._service = service
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """The source's families, each with only this service's and the process's samples."""
        for family in self._source.collect():
            if _FAMILY_OWNERS.get(family.name, self._service) != self._service:
                continue
            samples = [s for s in family.samples if _owner(s.labels) in (None, self._service)]
            if len(samples) == len(family.samples):
                yield family
            elif samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept
        yield InfoMetricFamily(
            "coord_service",
            "The service this endpoint reports on",
            value={"service": self._service},
        )


@cache
def service_registry(service: str) -> CollectorRegistry:
    """The registry ``service``'s ``/metrics`` exposes: its ``ServiceMetrics`` view."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceMetrics(service))
    return registry
