"""A CAP 1.2 message as plain data, and its XML.

The format only: what an alert means to coord is the alerts domain's business
(services/ingest/alerts/cap_export.py). Elements are written in the schema's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from services.ingest.cap.schema import NAMESPACE


def cap_time(moment: datetime) -> str:
    """A time as CAP writes it: seconds, and the offset spelled out (never ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass(frozen=True)
class Reference:
    """An earlier message: CAP's ``sender,identifier,sent``."""

    sender: str
    identifier: str
    sent: datetime

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


@dataclass(frozen=True)
class Area:
    """CAP ``area``: a description, shapes as CAP writes them, and geocodes."""

    description: str
    polygons: tuple[str, ...] = ()
    circles: tuple[str, ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value)


@dataclass(frozen=True)
class Info:
    """CAP ``info``: the alert in one language."""

    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    event_codes: tuple[tuple[str, str], ...] = ()
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True)
class CapMessage:
    """CAP ``alert``: one message, immutable once sent."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    restriction: str | None = None
    note: str | None = None
    references: tuple[Reference, ...] = ()
    incidents: str | None = None
    infos: tuple[Info, ...] = field(default_factory=tuple)


class _Writer:
    """Children in CAP's namespace, text set, ``None`` left out."""

    @staticmethod
    def add(parent: etree._Element, name: str, text: str | None) -> None:
        if text is not None:
            etree.SubElement(parent, f"{{{NAMESPACE}}}{name}").text = text

    @classmethod
    def pairs(cls, parent: etree._Element, name: str, pairs: tuple[tuple[str, str], ...]) -> None:
        for value_name, value in pairs:
            element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
            cls.add(element, "valueName", value_name)
            cls.add(element, "value", value)


def to_xml(message: CapMessage) -> bytes:
    """The message as UTF-8 XML with its declaration."""
    w = _Writer
    alert = etree.Element(f"{{{NAMESPACE}}}alert", nsmap={None: NAMESPACE})
    w.add(alert, "identifier", message.identifier)
    w.add(alert, "sender", message.sender)
    w.add(alert, "sent", cap_time(message.sent))
    w.add(alert, "status", message.status)
    w.add(alert, "msgType", message.msg_type)
    w.add(alert, "scope", message.scope)
    w.add(alert, "restriction", message.restriction)
    w.add(alert, "note", message.note)
    if message.references:
        w.add(alert, "references", " ".join(map(str, message.references)))
    w.add(alert, "incidents", message.incidents)
    for info in message.infos:
        element = etree.SubElement(alert, f"{{{NAMESPACE}}}info")
        w.add(element, "language", info.language)
        for category in info.categories:
            w.add(element, "category", category)
        w.add(element, "event", info.event)
        w.add(element, "urgency", info.urgency)
        w.add(element, "severity", info.severity)
        w.add(element, "certainty", info.certainty)
        w.pairs(element, "eventCode", info.event_codes)
        w.add(element, "senderName", info.sender_name)
        w.add(element, "headline", info.headline)
        w.add(element, "description", info.description)
        w.add(element, "instruction", info.instruction)
        w.pairs(element, "parameter", info.parameters)
        for area in info.areas:
            area_element = etree.SubElement(element, f"{{{NAMESPACE}}}area")
            w.add(area_element, "areaDesc", area.description)
            for polygon in area.polygons:
                w.add(area_element, "polygon", polygon)
            for circle in area.circles:
                w.add(area_element, "circle", circle)
            w.pairs(area_element, "geocode", area.geocodes)
    return bytes(etree.tostring(alert, xml_declaration=True, encoding="UTF-8"))
