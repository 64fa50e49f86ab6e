"""Property tests of route matching: first match wins, an empty match matches everything."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.router.alerts.routing import AlertFacts, route_matches, select_policies
from shared.contracts.alerts import Category, Component, Severity
from shared.directory import Route, RouteMatch
from shared.envelope import Classification

CATEGORIES = [c.value for c in Category]
SEVERITIES = [s.value for s in Severity]
SECTORS = ["north", "south", "beni", "east"]
ORIGINS = [c.value for c in Component]
CLASSIFICATIONS = [c.value for c in Classification]
POLICIES = ["p1", "p2", "p3", "p4"]

FIELDS = {
    "category": CATEGORIES,
    "severity": SEVERITIES,
    "sector": SECTORS,
    "origin": ORIGINS,
    "classification": CLASSIFICATIONS,
}

alert_facts = st.builds(
    AlertFacts,
    category=st.sampled_from(CATEGORIES),
    severity=st.sampled_from(SEVERITIES),
    sector=st.sampled_from(SECTORS),
    origin=st.sampled_from(ORIGINS),
    classification=st.sampled_from(CLASSIFICATIONS),
)

route_match = st.fixed_dictionaries(
    {},
    optional={
        name: st.lists(st.sampled_from(values), unique=True, max_size=len(values))
        for name, values in FIELDS.items()
    },
).map(RouteMatch.model_validate)

routes = st.lists(
    st.builds(
        lambda match, policy, cont: Route.model_validate(
            {"match": match.model_dump(exclude_none=True), "policy": policy, "continue": cont}
        ),
        route_match,
        st.sampled_from(POLICIES),
        st.booleans(),
    ),
    max_size=8,
)


def reference_matches(match: RouteMatch, facts: AlertFacts) -> bool:
    for name in FIELDS:
        wanted = getattr(match, name)
        if wanted is not None and getattr(facts, name) not in wanted:
            return False
    return True


@given(alert_facts)
def test_empty_match_matches_everything(facts: AlertFacts) -> None:
    assert route_matches(RouteMatch(), facts)
    assert select_policies([Route(policy="catch-all")], facts) == ["catch-all"]


@given(route_match, alert_facts)
def test_route_matches_iff_every_listed_field_contains_the_value(
    match: RouteMatch, facts: AlertFacts
) -> None:
    assert route_matches(match, facts) == reference_matches(match, facts)


@given(routes, alert_facts)
def test_first_matching_route_wins(route_list: list[Route], facts: AlertFacts) -> None:
    selected = select_policies(route_list, facts)
    matching = [r for r in route_list if reference_matches(r.match, facts)]
    if not matching:
        assert selected == []
        return
    first = matching[0]
    assert selected[0] == first.policy
    if not first.continue_:
        assert selected == [first.policy]
    assert len(selected) == len(set(selected))
    assert set(selected) <= {r.policy for r in matching}


@given(routes, alert_facts)
def test_selection_follows_continue_chain(route_list: list[Route], facts: AlertFacts) -> None:
    # reference: walk the matching routes while they say continue
    expected: list[str] = []
    for r in route_list:
        if reference_matches(r.match, facts):
            if r.policy not in expected:
                expected.append(r.policy)
            if not r.continue_:
                break
    assert select_policies(route_list, facts) == expected


@given(routes, alert_facts)
def test_catch_all_at_the_end_always_selects_something(
    route_list: list[Route], facts: AlertFacts
) -> None:
    assert select_policies([*route_list, Route(policy="fallback")], facts)
