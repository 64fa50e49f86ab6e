"""The repository's root and the directories the tests load (no I/O beyond reading files)."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

import yaml

from shared.directory import Directory, load_directory
from shared.source_protection import SourceKeyRing

REPO_ROOT = Path(__file__).resolve().parents[2]

# The reference directory of the design, copied into the repository: the tests never
# read outside it. (deploy/directory.yaml is the demo directory: the example plus a few
# people.)
EXAMPLE_DIRECTORY = REPO_ROOT / "tests" / "data" / "example_directory.yaml"
DEMO_DIRECTORY = REPO_ROOT / "deploy" / "directory.yaml"
# The directory of the end-to-end tests (the demo one plus a few people); its webhook
# addresses start with ``${webhook_base_url}`` (see directory_for).
E2E_DIRECTORY = REPO_ROOT / "tests" / "data" / "e2e_directory.yaml"


def example_directory() -> Directory:
    """The reference directory, validated by ``load_directory``."""
    return load_directory(EXAMPLE_DIRECTORY)


def directory_for(receiver_base_url: str) -> dict[str, Any]:
    """The e2e directory (tests/data/e2e_directory.yaml, in the format of
    tests/data/example_directory.yaml) as a new mapping, its webhook contacts pointing at
    ``<receiver_base_url>/<person_id>``."""
    data: dict[str, Any] = yaml.safe_load(E2E_DIRECTORY.read_text(encoding="utf-8"))
    for person in data["people"]:
        for contact in person["contacts"]:
            contact["address"] = Template(contact["address"]).substitute(
                webhook_base_url=receiver_base_url
            )
    return data


def directory_with_unreachable_target() -> Directory:
    """The reference directory plus a route paging amani.cla (radio: unreachable) and lucas.ho."""
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["escalation_policies"].append(
        {
            "id": "can-relay",
            "levels": [
                {"targets": [{"person": "amani.cla"}, {"role": "head_of_office"}], "delay": "5m"}
            ],
        }
    )
    data["routes"].insert(0, {"match": {"category": ["displacement"]}, "policy": "can-relay"})
    return Directory.model_validate(data)


# Contacts of awa.hfo in the reference directory, as ``notification.requested`` lists them.
AWA_CONTACTS = [
    {"channel": "webhook", "address": "http://127.0.0.1:9101/awa"},
    {"channel": "email", "address": "awa.ndiaye@example.org"},
]


def focal_point(
    contact_id: str, name: str, phone: str, location: str, language: str = "fr"
) -> dict[str, str]:
    """A community contact of sector beni as an administrator writes it (plaintext)."""
    return {
        "id": contact_id,
        "name": name,
        "phone": phone,
        "location": location,
        "sector": "beni",
        "language": language,
    }


def with_focal_points(
    data: dict[str, Any], keys: SourceKeyRing, *contacts: dict[str, str]
) -> Directory:
    """The directory ``data`` with ``contacts``, sealed as every stored version is."""
    directory = Directory.model_validate({**data, "community_contacts": list(contacts)})
    return directory.with_sealed_contacts(keys)
