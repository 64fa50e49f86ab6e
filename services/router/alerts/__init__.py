"""The alert's lifecycle in the router: open or merge, route, escalate, acknowledge, resolve.

- ``service``: a raised alert opens (or merges into a duplicate, ``dedup``) and pages level 1;
- ``commands``: acknowledge, resolve, note;
- ``escalation``: the pure state machine; ``routing``: whom a policy pages;
- ``transitions``: applying a transition (state, events, notifications) in one transaction;
- ``store``: the alert row to and from the state machine's state;
- ``dry_run``: the policy played forward without writing anything.
"""
