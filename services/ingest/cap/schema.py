"""The CAP 1.2 schema (OASIS, ``CAP-v1.2.xsd`` beside this module) and checks against it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
MEDIA_TYPE = "application/cap+xml"
SCHEMA_PATH = Path(__file__).with_name("CAP-v1.2.xsd")


@cache
def _schema() -> etree.XMLSchema:
    # The schema is ours, read from the package; still parsed with the network off.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def schema_errors(root: etree._Element) -> list[str]:
    """What makes ``root`` an invalid CAP 1.2 alert, one line per problem (none: valid)."""
    schema = _schema()
    if schema.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
