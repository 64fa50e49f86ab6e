"""Prometheus metrics shared by the services."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
NOTIFICATIONS = Counter(
    "coord_notifications_total", "Notification outcomes", ["channel", "outcome"]
)
ALERTS_ACCEPTED = Counter("coord_alerts_accepted_total", "Alerts accepted over HTTP")
TIMER_LATENESS = Histogram(
    "coord_timer_lateness_seconds",
    "How late escalation timers fire after their due time",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)
