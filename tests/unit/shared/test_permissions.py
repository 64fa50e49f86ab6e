"""The permissions table, the need-to-know rule for alerts, and the table in docs/security.md."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pytest

from shared.directory import Person, load_directory
from shared.envelope import Classification
from shared.permissions import (
    PERMISSIONS,
    Action,
    AlertAudience,
    actions_of,
    allowed,
    may_see_alert,
    refusal,
)
from tests.support.directories import DEMO_DIRECTORY, REPO_ROOT, example_directory

A = Action
C = Classification
SECURITY_PAGE = REPO_ROOT / "docs" / "security.md"


def person(
    *roles: str,
    person_id: str = "someone",
    sectors: Collection[str] = ("beni",),
    clearance: Classification = C.CONFIDENTIAL,
) -> Person:
    return Person(
        id=person_id,
        name=person_id,
        component="civilian",
        roles=list(roles),
        sectors=list(sectors),
        clearance=clearance,
    )


# --------------------------------------------------------------------------- role x action


@pytest.mark.parametrize(
    ("roles", "action", "expected"),
    [
        # The auditor only reads: no acknowledging, raising, answering or resolving.
        pytest.param(["auditor"], A.ACKNOWLEDGE, False, id="auditor-acknowledge"),
        pytest.param(["auditor"], A.RAISE_ALERT, False, id="auditor-raise"),
        pytest.param(["auditor"], A.POST_MESSAGE, False, id="auditor-post"),
        pytest.param(["auditor"], A.RESPOND, False, id="auditor-respond"),
        pytest.param(["auditor"], A.READ, True, id="auditor-read"),
        pytest.param(["auditor"], A.REPORT, True, id="auditor-report"),
        pytest.param(["auditor"], A.AUDIT, True, id="auditor-audit"),
        # A CLA relays alerts; it does not decide on them.
        pytest.param(["community_liaison"], A.RAISE_ALERT, True, id="cla-raise"),
        pytest.param(["community_liaison"], A.ACKNOWLEDGE, True, id="cla-acknowledge"),
        pytest.param(["community_liaison"], A.RESOLVE, False, id="cla-resolve"),
        pytest.param(["community_liaison"], A.RECOMMEND, False, id="cla-recommend"),
        pytest.param(["community_liaison"], A.REPORT, False, id="cla-report"),
        # The JOC recommends, but does not answer recommendations or read the log.
        pytest.param(["joc_operator"], A.RECOMMEND, True, id="joc-recommend"),
        pytest.param(["joc_operator"], A.RESPOND, False, id="joc-respond"),
        pytest.param(["joc_operator"], A.AUDIT, False, id="joc-audit"),
        # Focal points answer recommendations; they do not make them.
        pytest.param(["sector_commander"], A.RESPOND, True, id="commander-respond"),
        pytest.param(["sector_commander"], A.RECOMMEND, False, id="commander-recommend"),
        pytest.param(["police_focal_point"], A.REPORT, False, id="police-report"),
        # Senior civilians do everything but audit and keep the directory.
        pytest.param(["dsrsg"], A.REPORT, True, id="dsrsg-report"),
        pytest.param(["dsrsg"], A.AUDIT, False, id="dsrsg-audit"),
        pytest.param(["dsrsg"], A.ADMINISTER_DIRECTORY, False, id="dsrsg-administer"),
        # Nobody but the admin loads a directory.
        pytest.param(["auditor"], A.ADMINISTER_DIRECTORY, False, id="auditor-administer"),
        pytest.param(["joc_operator"], A.ADMINISTER_DIRECTORY, False, id="joc-administer"),
        # Parked outbox rows are the admin's too, not the auditor's or the JOC's.
        pytest.param(["auditor"], A.ADMINISTER_OUTBOX, False, id="auditor-outbox"),
        pytest.param(["joc_operator"], A.ADMINISTER_OUTBOX, False, id="joc-outbox"),
        pytest.param(["directory_admin"], A.ADMINISTER_OUTBOX, True, id="admin-outbox"),
    ],
)
def test_role_may_or_may_not(roles: list[str], action: Action, expected: bool) -> None:
    assert allowed(person(*roles), action) is expected


def test_the_directory_admin_may_only_administer_the_directory_and_the_outboxes() -> None:
    assert actions_of(person("directory_admin")) == {A.ADMINISTER_DIRECTORY, A.ADMINISTER_OUTBOX}


@pytest.mark.parametrize(
    "roles",
    [
        pytest.param([], id="no-role"),
        pytest.param(["wizard"], id="unknown-role"),
        pytest.param(["JOC_OPERATOR"], id="case-matters"),
    ],
)
def test_an_unknown_role_grants_nothing(roles: list[str]) -> None:
    assert actions_of(person(*roles)) == frozenset()
    assert not any(allowed(person(*roles), action) for action in Action)


def test_several_roles_grant_the_union() -> None:
    both = person("community_liaison", "auditor")
    assert actions_of(both) == PERMISSIONS["community_liaison"] | PERMISSIONS["auditor"]
    assert allowed(both, A.RAISE_ALERT)  # from the CLA
    assert allowed(both, A.AUDIT)  # from the auditor
    assert not allowed(both, A.RESOLVE)  # from neither
    assert actions_of(person("wizard", "auditor")) == PERMISSIONS["auditor"]


def test_every_role_of_the_shipped_directories_is_in_the_table() -> None:
    for directory in (example_directory(), load_directory(DEMO_DIRECTORY)):
        roles = {role for p in directory.people for role in p.roles}
        assert roles - set(PERMISSIONS) == set()


def test_a_refusal_names_the_person_their_roles_and_the_action() -> None:
    cla = person("community_liaison", person_id="amani.cla")
    assert refusal(cla, A.RESOLVE) == "amani.cla (community_liaison) may not resolve"
    assert refusal(person(person_id="nobody"), A.RAISE_ALERT) == (
        "nobody (no role) may not raise alert"
    )


# --------------------------------------------------------------------------- need-to-know

BENI_CONFIDENTIAL = AlertAudience(
    classification=C.CONFIDENTIAL,
    sector="beni",
    raised_by="amani.cla",
    chain=frozenset({"awa.hfo", "lucas.ho"}),
)


@pytest.mark.parametrize(
    ("reader", "alert", "expected"),
    [
        pytest.param(
            person("head_of_field_office", person_id="awa.hfo"),
            BENI_CONFIDENTIAL,
            True,
            id="on-the-chain",
        ),
        pytest.param(
            person("head_of_field_office", person_id="awa.hfo", clearance=C.UNCLASSIFIED),
            BENI_CONFIDENTIAL,
            False,
            id="on-the-chain-not-cleared",
        ),
        pytest.param(
            person("community_liaison", person_id="amani.cla"),
            BENI_CONFIDENTIAL,
            True,
            id="raiser",
        ),
        pytest.param(
            person("community_liaison", person_id="amani.cla"),
            replace(BENI_CONFIDENTIAL, classification=C.STRICTLY_CONFIDENTIAL),
            False,
            id="raiser-not-cleared",
        ),
        pytest.param(
            person("joc_operator", person_id="jo.north", sectors=["north"]),
            BENI_CONFIDENTIAL,
            False,
            id="joc-of-another-sector",
        ),
        pytest.param(
            person("joc_operator", person_id="jo.beni", sectors=["beni"]),
            BENI_CONFIDENTIAL,
            True,
            id="joc-of-the-sector",
        ),
        pytest.param(
            person("joc_operator", person_id="jo.operator", sectors=["*"]),
            BENI_CONFIDENTIAL,
            True,
            id="joc-mission-wide",
        ),
        pytest.param(
            person("joc_operator", person_id="jo.beni", clearance=C.UNCLASSIFIED),
            BENI_CONFIDENTIAL,
            False,
            id="joc-of-the-sector-not-cleared",
        ),
        pytest.param(
            person("sector_commander", person_id="col.okafor", sectors=["beni"]),
            BENI_CONFIDENTIAL,
            False,
            id="covers-the-sector-not-joc",
        ),
        pytest.param(
            person("community_liaison", person_id="zawadi.cla", sectors=["beni"]),
            replace(BENI_CONFIDENTIAL, raised_by="community-sms", origin="community"),
            True,
            id="cla-of-the-sector-of-a-community-alert",
        ),
        pytest.param(
            person("community_liaison", person_id="zawadi.cla", sectors=["beni"]),
            replace(BENI_CONFIDENTIAL, raised_by="jo.operator", origin="military"),
            False,
            id="cla-of-the-sector-not-a-community-alert",
        ),
        pytest.param(
            person("community_liaison", person_id="zawadi.cla", sectors=["south"]),
            replace(BENI_CONFIDENTIAL, raised_by="community-sms", origin="community"),
            False,
            id="cla-of-another-sector",
        ),
        pytest.param(
            person("sector_commander", person_id="col.okafor", sectors=["beni"]),
            replace(BENI_CONFIDENTIAL, raised_by="community-sms", origin="community"),
            False,
            id="community-alert-not-a-cla",
        ),
        pytest.param(
            person(
                "dsrsg", person_id="grace.dsrsg", sectors=["*"], clearance=C.STRICTLY_CONFIDENTIAL
            ),
            BENI_CONFIDENTIAL,
            False,
            id="senior-not-on-this-chain",
        ),
        pytest.param(
            person("auditor", person_id="audit.low", sectors=[], clearance=C.UNCLASSIFIED),
            replace(BENI_CONFIDENTIAL, classification=C.STRICTLY_CONFIDENTIAL),
            True,
            id="auditor-uncleared-sees-all",
        ),
        pytest.param(
            person("directory_admin", person_id="awa.hfo", clearance=C.STRICTLY_CONFIDENTIAL),
            BENI_CONFIDENTIAL,
            False,
            id="on-the-chain-without-read",
        ),
        pytest.param(
            person("wizard", person_id="amani.cla"),
            BENI_CONFIDENTIAL,
            False,
            id="raiser-with-an-unknown-role",
        ),
    ],
)
def test_may_see_alert(reader: Person, alert: AlertAudience, expected: bool) -> None:
    assert may_see_alert(reader, alert) is expected


# --------------------------------------------------------------------------- docs/security.md


def documented_table() -> dict[str, dict[str, str]]:
    """The permissions table of docs/security.md: role -> action -> cell ("yes" or "")."""
    lines = SECURITY_PAGE.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.replace(" ", "").startswith("|role|")]
    assert len(starts) == 1, "docs/security.md must have one table headed '| role |'"
    rows: list[list[str]] = []
    for line in lines[starts[0] :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    header, separator, *body = rows
    assert all(set(cell) <= set(":-") for cell in separator), separator
    table: dict[str, dict[str, str]] = {}
    for role, *cells in body:
        assert role not in table, f"{role} twice"
        assert len(cells) == len(header) - 1, f"{role}: {len(cells)} cells"
        table[role] = dict(zip(header[1:], cells, strict=True))
    return table


def test_the_documented_table_is_the_permissions_table() -> None:
    table = documented_table()
    assert list(table) == list(PERMISSIONS), "the roles, in the order of PERMISSIONS"
    for role, cells in table.items():
        assert list(cells) == [a.value for a in Action], "the actions, in the order of Action"
        for action, cell in cells.items():
            assert cell in {"yes", ""}, f"{role}/{action}: {cell!r} is neither 'yes' nor empty"
            granted = Action(action) in PERMISSIONS[role]
            assert (cell == "yes") == granted, f"{role}/{action}: documented {cell!r}"


def test_every_action_is_explained_in_the_security_page() -> None:
    text = SECURITY_PAGE.read_text(encoding="utf-8")
    for action in Action:
        assert f"- `{action.value}`: " in text, action
