"""What a notification mail says: its subject line and plain-text body.

An alert's mail is the one people knew before version 2 (severity, category,
sector in the subject; the alert's fields in the body). Any other subject is
told from its ``summary`` alone: its title and classification in the subject
line, its fields in the body. Nothing outside the summary and the message
(say, a contact address) ever goes into a mail.
"""

from __future__ import annotations

import json

from services.notifier.subjects import public_summary
from shared.contracts.notifications import NotificationKind, NotificationRequestedV2, SubjectType
from shared.envelope import Classification

SUBJECT_MAX = 200
LABEL_WIDTH = 15  # "Classification:": the widest label of an alert's body


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), sort_keys=True)


def _field(label: str, value: object) -> str:
    # Values line up after the widest alert label; a longer label still gets its space.
    return f"{label + ':':<{LABEL_WIDTH}} {_text(value)}"


def _words(kind: NotificationKind) -> str:
    return kind.value.replace("_", " ")


def _alert_subject(request: NotificationRequestedV2) -> str:
    alert = public_summary(request)
    kind = "" if request.kind is NotificationKind.PAGE else f"{_words(request.kind)} "
    return (
        f"[coord] {kind.upper()}{_text(alert.get('severity')).upper()} "
        f"{_text(alert.get('category')).replace('_', ' ')} in {_text(alert.get('sector'))}: "
        f"{_text(alert.get('title'))}"
    )


def _title(request: NotificationRequestedV2) -> str:
    # A summary without a title still names what the mail is about.
    title = _text(public_summary(request).get("title"))
    return title or f"{request.subject_type.value} {request.subject_id}"


def _other_subject(request: NotificationRequestedV2) -> str:
    classification = _text(public_summary(request).get("classification"))
    # Marked only when restricted: "unclassified" on every mail would be noise.
    marking = "" if classification in ("", Classification.UNCLASSIFIED) else f" {classification}"
    return f"[coord] {_words(request.kind).upper()}{marking}: {_title(request)}"


def email_subject(request: NotificationRequestedV2) -> str:
    """The subject line, one line and bounded.

    E.g. ``[coord] SEVERE abduction in beni: <title>`` for an alert page (any other
    kind first: ``[coord] RESOLVED SEVERE ...``), ``[coord] MESSAGE confidential:
    <title>`` for a message, ``[coord] RECOMMENDATION: <title>`` for an
    unclassified recommendation.
    """
    if request.subject_type is SubjectType.ALERT:
        subject = _alert_subject(request)
    else:
        subject = _other_subject(request)
    return _one_line(subject)[:SUBJECT_MAX]


def _alert_fields(request: NotificationRequestedV2) -> list[str]:
    alert = public_summary(request)
    location = alert.get("location")
    return [
        _field("Category", alert.get("category")),
        _field("Severity", alert.get("severity")),
        _field("Urgency", alert.get("urgency")),
        _field("Certainty", alert.get("certainty")),
        _field("Sector", alert.get("sector")),
        _field("Location", location.get("name", "") if isinstance(location, dict) else ""),
        _field("Origin", alert.get("origin")),
        _field("Classification", alert.get("classification")),
        _field("Raised at", alert.get("raised_at")),
    ]


def _other_fields(request: NotificationRequestedV2) -> list[str]:
    # The summary's own order: the router chose it for the reader.
    return [
        _field(key.replace("_", " ").capitalize(), value)
        for key, value in public_summary(request).items()
        if key != "title"
    ]


def email_text(request: NotificationRequestedV2, acknowledge_url: str | None = None) -> str:
    """The body: the summary (never the subject's source), message, level and ids.

    ``acknowledge_url`` (a page's action link) comes right after the message, on a line
    ``Acknowledge:    <url>`` of its own, where a reader on a phone sees it first; without
    one the body is as before.
    """
    if request.subject_type is SubjectType.ALERT:
        title = _text(public_summary(request).get("title"))
        fields = _alert_fields(request)
    else:
        title = _title(request)
        fields = _other_fields(request)
    lines = [f"{_words(request.kind).capitalize()}: {title}", ""]
    if request.message:
        lines += [request.message, ""]
    if acknowledge_url is not None:
        lines += [_field("Acknowledge", acknowledge_url), ""]
    policy = f" ({request.policy_id})" if request.policy_id else ""
    subject_label = f"{request.subject_type.value.capitalize()} id"
    lines += [
        *fields,
        _field("Level", f"{request.level}{policy}"),
        _field(subject_label, str(request.subject_id)),
        _field("Notification", str(request.notification_id)),
        "",
    ]
    return "\n".join(lines)
