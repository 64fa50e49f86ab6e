"""The channels the router pages on are exactly those the notifier delivers on."""

from __future__ import annotations

from services.notifier.channels import CHANNELS
from shared.contracts.notifications import COMMUNITY_SMS, SUPPORTED_CHANNELS


def test_the_notifier_delivers_on_every_supported_channel_and_no_other() -> None:
    # Plus feedback to community contacts, a channel no person of the directory lists.
    assert sorted(CHANNELS) == sorted([*SUPPORTED_CHANNELS, COMMUNITY_SMS])
    assert COMMUNITY_SMS not in SUPPORTED_CHANNELS
