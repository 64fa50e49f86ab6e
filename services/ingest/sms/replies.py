"""An officer's SMS reply, acted on as that person through the command path.

The person is found by their number, the alert by its code, and the command is staged
as that person through the same path as the API and the board.

The router decides, as for any acknowledgement; the sender is answered with its verdict
(or that it is being processed, if the router takes longer than ``COORD_COMMAND_WAIT``).
Whatever happens (an unknown number, junk, an unknown code) is ``sms.received`` on the
log, and nothing else happens. An alert the person may not see is "no open alert" to
them, exactly as an unknown code: need-to-know holds on SMS too.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts.queries import visible_to
from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.command_staging import stage_command
from services.ingest.deps import ApiContext
from services.ingest.sms.wording import UNKNOWN_SENDER, answer, refusal_reason
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_RESOLVE, SMS_RECEIVED
from shared.contracts.escalation import AcknowledgeAlertV1, ResolveAlertV1, SmsReceivedV1
from shared.directory import Person
from shared.envelope import Classification
from shared.sms.replies import Reply, ReplyAction, parse_reply

OPEN_SHOWN = 3  # codes listed to someone who did not say which alert
GATEWAY_ACTOR = "sms-gateway"  # the actor of what an SMS from no person of the directory did


@dataclass(frozen=True)
class InboundSms:
    """An SMS as Kannel hands it over."""

    sender: str
    text: str
    gateway_id: str


async def _open_alerts(session: AsyncSession, person: Person) -> list[AlertViewRecord]:
    """The open alerts with a code that ``person`` may see and is on the chain of."""
    views = await session.scalars(
        select(AlertViewRecord)
        .where(
            visible_to(person),
            AlertViewRecord.status != "resolved",
            AlertViewRecord.code.is_not(None),
        )
        .order_by(AlertViewRecord.raised_at.desc())
        .limit(500)
    )
    return [v for v in views if person.id in v.chain]


def _chosen(open_alerts: list[AlertViewRecord], reply: Reply) -> AlertViewRecord | str:
    """The alert the reply names, or the key of the answer saying why there is none."""
    if reply.code is not None:
        named = [v for v in open_alerts if v.code == reply.code]
        return named[0] if named else "unknown_alert"
    if len(open_alerts) == 1:
        return open_alerts[0]  # one open alert: the code may be left out
    return "which_alert" if open_alerts else "none_open"


async def _log(
    session: AsyncSession, received: SmsReceivedV1, classification: Classification
) -> None:
    await stage_command(
        session,
        SMS_RECEIVED,
        received,
        actor=received.person_id or GATEWAY_ACTOR,
        correlation_id=received.alert_id or uuid4(),  # about no alert: its own story
        classification=classification,
        causation_id=received.command_id,
    )


async def answer_unknown_sender(context: ApiContext, sms: InboundSms) -> str:
    """An acknowledgement from a number not in the directory: nothing done, and logged."""
    unknown = SmsReceivedV1(gateway_id=sms.gateway_id, person_id=None, outcome="unknown_sender")
    async with context.sessions.begin() as session:
        await _log(session, unknown, Classification.UNCLASSIFIED)
    return UNKNOWN_SENDER


async def answer_reply(context: ApiContext, person: Person, sms: InboundSms) -> str:
    """Act on an SMS to coord from a person of the directory; the SMS to answer with."""
    base = SmsReceivedV1(gateway_id=sms.gateway_id, person_id=person.id, outcome="staged")
    language = person.language.value
    reply = parse_reply(sms.text)
    if reply is None:
        async with context.sessions.begin() as session:
            junk = base.model_copy(update={"outcome": "not_understood"})
            await _log(session, junk, Classification.UNCLASSIFIED)
        return answer(language, "not_understood")
    async with context.sessions.begin() as session:
        open_alerts = await _open_alerts(session, person)
        chosen = _chosen(open_alerts, reply)
        if isinstance(chosen, str):
            update: dict[str, object] = {
                "outcome": chosen,
                "action": reply.action.value,
                "code": reply.code,
            }
            await _log(session, base.model_copy(update=update), Classification.UNCLASSIFIED)
            codes = ", ".join(v.code or "" for v in open_alerts[:OPEN_SHOWN])
            return answer(language, chosen, code=reply.code or "", codes=codes)
        alert_id = UUID(chosen.alert_id)
        classification = Classification(chosen.classification)
        command_type, command = (
            (ALERT_ACKNOWLEDGE, AcknowledgeAlertV1(alert_id=alert_id, person_id=person.id))
            if reply.action is ReplyAction.ACKNOWLEDGE
            else (ALERT_RESOLVE, ResolveAlertV1(alert_id=alert_id, person_id=person.id))
        )
        command_id = await stage_command(
            session,
            command_type,
            command,
            actor=person.id,
            correlation_id=alert_id,
            classification=classification,
        )
        await _log(
            session,
            base.model_copy(
                update={
                    "outcome": "staged",
                    "action": reply.action.value,
                    "code": chosen.code,
                    "alert_id": alert_id,
                    "command_id": command_id,
                }
            ),
            classification,
        )
    code = chosen.code or ""
    verdict = await context.verdicts.wait(command_id, context.command_wait)
    if verdict is None:
        return answer(language, "pending", code=code)
    if not verdict.accepted:
        refusal = verdict.refusal.value if verdict.refusal else None
        reason = refusal_reason(language, refusal, verdict.reason or "")
        return answer(language, "refused", code=code, reason=reason)
    return answer(language, reply.action.value, code=code)
