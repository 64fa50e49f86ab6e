"""Every SMS Kannel hands over, sent where its sender says it belongs.

- a person of the directory (their ``sms`` contact): a reply to a page
  (``services.ingest.sms.replies``);
- a community contact: a community alert and its receipt
  (``services.ingest.sms.community``);
- a number coord does not know: a reply keyword (``ACK 4821``) is refused as from an
  unknown number; anything else waits in triage for a CLA
  (``services.ingest.sms.triage``).
"""

from __future__ import annotations

from services.ingest.deps import ApiContext
from services.ingest.sms.community import raise_from_contact
from services.ingest.sms.replies import InboundSms, answer_reply, answer_unknown_sender
from services.ingest.sms.triage import hold_for_triage
from services.ingest.sms.wording import HELD_FOR_TRIAGE
from shared.community_contacts import contact_with_phone
from shared.sms.replies import parse_reply


async def answer_sms(context: ApiContext, sms: InboundSms, default_region: str | None) -> str:
    """Act on one inbound SMS; the SMS to answer its sender with."""
    directory = context.directory
    person = directory.person_with_phone(sms.sender, default_region)
    if person is not None:
        return await answer_reply(context, person, sms)
    contact = contact_with_phone(
        directory.community_contacts, sms.sender, context.source_keys, default_region
    )
    if contact is not None:
        return await raise_from_contact(context, contact, sms.text, sms.gateway_id)
    if parse_reply(sms.text) is not None:
        return await answer_unknown_sender(context, sms)
    await hold_for_triage(context, sms.sender, sms.text, sms.gateway_id, default_region)
    return HELD_FOR_TRIAGE
