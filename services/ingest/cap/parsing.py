"""A CAP 1.2 message from a partner, read defensively.

What arrives is untrusted XML. It is parsed with entities left unexpanded, no DTD
loaded, nothing fetched from the network and no huge-tree allowances; a document that
declares a DTD at all is refused (CAP needs none, and a DTD is how entity expansion
("billion laughs") and external entities get in). Then the root must be CAP 1.2's
``alert`` and the whole must be valid against the OASIS schema. Only then is it read
into a :class:`~services.ingest.cap.message.CapMessage`. Every refusal names the problem.
"""

from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from services.ingest.cap.message import Area, CapMessage, Info, Reference
from services.ingest.cap.schema import NAMESPACE, schema_errors

#: The largest message read: what `coord cap import` takes from a file (over HTTP the
#: body limit, COORD_MAX_BODY_BYTES, 64 KB by default, refuses first).
MAX_MESSAGE_BYTES = 1024 * 1024
CAP_11 = "urn:oasis:names:tc:emergency:cap:1.1"
_SHOWN_ERRORS = 5


_NO_DTD = "a DTD (<!DOCTYPE ...>) is not accepted: CAP 1.2 needs none"
# Where the root element starts: a DTD can only come before it.
_FIRST_ELEMENT = re.compile(rb"<[^!?]")


class CapRefused(ValueError):
    """The message is not one coord reads; ``str()`` says why, for the sender."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes) -> CapMessage:
    """The message in ``data``; :class:`CapRefused` naming the problem otherwise."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise CapRefused(f"the message is {len(data)} bytes; at most {MAX_MESSAGE_BYTES}")
    # Refused before parsing, by name (libxml2 would refuse "billion laughs" too, but
    # as an amplification error); the parser's own view below covers what this scan
    # cannot read (a prolog in UTF-16, say).
    first = _FIRST_ELEMENT.search(data)
    if b"<!DOCTYPE" in (data if first is None else data[: first.start()]):
        raise CapRefused(_NO_DTD)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise CapRefused(f"not well-formed XML: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise CapRefused(_NO_DTD)
    tag = etree.QName(root)
    if tag.namespace == CAP_11:
        raise CapRefused(f"CAP 1.1 is not accepted: send CAP 1.2 ({NAMESPACE})")
    if (tag.namespace, tag.localname) != (NAMESPACE, "alert"):
        raise CapRefused(
            f"not a CAP 1.2 alert: the root element is {tag.localname!r} in namespace "
            f"{tag.namespace!r}, not 'alert' in {NAMESPACE!r}"
        )
    problems = schema_errors(root)
    if problems:
        shown = "; ".join(problems[:_SHOWN_ERRORS])
        more = (
            f" (and {len(problems) - _SHOWN_ERRORS} more)" if len(problems) > _SHOWN_ERRORS else ""
        )
        raise CapRefused(f"not valid CAP 1.2: {shown}{more}")
    return _message(root)


def _text(element: etree._Element, name: str) -> str | None:
    value = element.findtext(f"{{{NAMESPACE}}}{name}")
    return None if value is None else value.strip()


def _texts(element: etree._Element, name: str) -> tuple[str, ...]:
    return tuple((e.text or "").strip() for e in element.iterfind(f"{{{NAMESPACE}}}{name}"))


def _pairs(element: etree._Element, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (_text(e, "valueName") or "", _text(e, "value") or "")
        for e in element.iterfind(f"{{{NAMESPACE}}}{name}")
    )


def _references(text: str | None) -> tuple[Reference, ...]:
    out = []
    for triple in (text or "").split():
        parts = triple.split(",")
        if len(parts) != 3:  # noqa: PLR2004 - sender,identifier,sent
            raise CapRefused(f"references: {triple!r} is not sender,identifier,sent")
        sender, identifier, sent = parts
        try:
            moment = datetime.fromisoformat(sent)
        except ValueError:
            raise CapRefused(f"references: {sent!r} is not a CAP time") from None
        out.append(Reference(sender, identifier, moment))
    return tuple(out)


def _message(root: etree._Element) -> CapMessage:
    infos = []
    for info in root.iterfind(f"{{{NAMESPACE}}}info"):
        areas = tuple(
            Area(
                description=_text(area, "areaDesc") or "",
                polygons=_texts(area, "polygon"),
                circles=_texts(area, "circle"),
                geocodes=_pairs(area, "geocode"),
            )
            for area in info.iterfind(f"{{{NAMESPACE}}}area")
        )
        infos.append(
            Info(
                language=_text(info, "language") or "en-US",  # the schema's default
                categories=_texts(info, "category"),
                event=_text(info, "event") or "",
                urgency=_text(info, "urgency") or "Unknown",
                severity=_text(info, "severity") or "Unknown",
                certainty=_text(info, "certainty") or "Unknown",
                event_codes=_pairs(info, "eventCode"),
                sender_name=_text(info, "senderName"),
                headline=_text(info, "headline"),
                description=_text(info, "description"),
                instruction=_text(info, "instruction"),
                parameters=_pairs(info, "parameter"),
                areas=areas,
            )
        )
    return CapMessage(
        identifier=_text(root, "identifier") or "",
        sender=_text(root, "sender") or "",
        sent=datetime.fromisoformat(_text(root, "sent") or ""),
        status=_text(root, "status") or "",
        msg_type=_text(root, "msgType") or "",
        scope=_text(root, "scope") or "",
        restriction=_text(root, "restriction"),
        note=_text(root, "note"),
        references=_references(_text(root, "references")),
        incidents=_text(root, "incidents"),
        infos=tuple(infos),
    )
