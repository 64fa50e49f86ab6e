"""``/board/triage``: SMS from unknown numbers, for a community liaison assistant to decide.

Each open SMS shows its sender's number, its text and how many SMS that number sent;
a CLA promotes it to a community alert of a sector they cover, or dismisses it with a
reason (``services.ingest.sms.triage``, which logs each decision). The senders are
sources: only ``triage_sms`` (CLAs) reads this page. A decision is posted, then the page
comes back (post, redirect, get); a wrong form is shown again with its errors beside
the fields, and nothing decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from services.ingest.board.acting import back_to
from services.ingest.board.flash import Flash
from services.ingest.board.pages import render
from services.ingest.board.raise_form import FieldError
from services.ingest.board.session import Poster, Reader, Visitor
from services.ingest.errors import InvalidRequest
from services.ingest.sms import triage as sms_triage
from services.ingest.sms.triage import DISMISS_REASON_MAX, Promotion, TriageClosed
from shared.contracts.alerts import Category, Severity
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
PAGE = "/board/triage"
DECIDED_SHOWN = 20  # of each outcome: the recent decisions, for the next CLA to see
# The alert's title is "<place>: <the SMS's first words>" (at most 200 characters).
LOCATION_MAX = 100
UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT
Text = Annotated[str, Form(max_length=5000)]


@dataclass(frozen=True)
class Invalid:
    """A form of one SMS shown again: which form, what was typed, what is wrong."""

    triage_id: str
    form: str  # "promote" or "dismiss"
    values: dict[str, str]
    errors: dict[str, FieldError]


def covered_sectors(visitor: Visitor) -> list[str]:
    """The sectors the visitor may promote an SMS into: those of the directory they cover."""
    return [s for s in visitor.context.directory.sectors if visitor.person.covers(s)]


async def _page(
    request: Request,
    visitor: Visitor,
    invalid: Invalid | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    context = visitor.context
    items = await sms_triage.triage_items(context)
    decided = [
        item
        for outcome in ("promoted", "dismissed")
        for item in await sms_triage.triage_items(context, status=outcome, limit=DECIDED_SHOWN)
    ]
    decided.sort(key=lambda item: item.received_at, reverse=True)
    return render(
        request,
        "triage.html",
        visitor,
        status_code=status_code,
        items=items,
        decided=decided,
        invalid=invalid,
        sectors=covered_sectors(visitor),
        categories=[c.value for c in Category],
        severities=[s.value for s in Severity],
        location_max=LOCATION_MAX,
        reason_max=DISMISS_REASON_MAX,
    )


def _forbidden(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, "error.html", visitor, status_code=403, problem="no_triage")


@router.get(PAGE, response_class=HTMLResponse)
async def triage_page(request: Request, visitor: Reader) -> HTMLResponse:
    """The open SMS, each with its forms, and the recent decisions; 403 but for CLAs."""
    if not visitor.may(Action.TRIAGE_SMS):
        return _forbidden(request, visitor)
    return await _page(request, visitor)


def _promotion(visitor: Visitor, values: dict[str, str]) -> Promotion | dict[str, FieldError]:
    """The promotion the form describes, or its errors by field."""
    errors: dict[str, FieldError] = {}
    for name in ("sector", "category", "severity", "location"):
        if not values[name]:
            errors[name] = FieldError("missing", "required")
    if values["sector"] and values["sector"] not in covered_sectors(visitor):
        errors["sector"] = FieldError("enum", "not a sector you cover")
    if values["category"] and values["category"] not in {c.value for c in Category}:
        errors["category"] = FieldError("enum", "not a category")
    if values["severity"] and values["severity"] not in {s.value for s in Severity}:
        errors["severity"] = FieldError("enum", "not a severity")
    if len(values["location"]) > LOCATION_MAX:
        errors["location"] = FieldError("string_too_long", "too long", LOCATION_MAX)
    if errors:
        return errors
    return Promotion(
        sector=values["sector"],
        category=Category(values["category"]),
        severity=Severity(values["severity"]),
        location=values["location"],
    )


def _problems(refused: InvalidRequest) -> dict[str, FieldError]:
    """The service's refusal by field; what names no field of the form goes on the first."""
    errors: dict[str, FieldError] = {}
    for location, message in refused.problems:
        field = str(location[0]) if location else ""
        errors.setdefault(
            field if field in {"sector", "reason"} else "", FieldError("refused", message)
        )
    return errors


@router.post(PAGE + "/{triage_id}/promote", response_model=None)
async def promote(
    request: Request,
    triage_id: UUID,
    visitor: Poster,
    *,
    sector: Text = "",
    category: Text = "",
    severity: Text = "",
    location: Text = "",
) -> HTMLResponse | RedirectResponse:
    """Raise the SMS as a community alert of the chosen sector, by the signed-in CLA."""
    if not visitor.may(Action.TRIAGE_SMS):
        return _forbidden(request, visitor)
    values = {
        "sector": sector.strip(),
        "category": category.strip(),
        "severity": severity.strip(),
        "location": " ".join(location.split()),
    }
    promotion = _promotion(visitor, values)
    if isinstance(promotion, dict):
        invalid = Invalid(str(triage_id), "promote", values, promotion)
        return await _page(request, visitor, invalid, status_code=UNPROCESSABLE)
    try:
        await sms_triage.promote(visitor.context, visitor.person, triage_id, promotion)
    except TriageClosed:
        return back_to(PAGE, Flash("refused", "promoted", "triage_closed"))
    except (InvalidRequest, ValidationError) as refused:
        errors = (
            _problems(refused)
            if isinstance(refused, InvalidRequest)
            else {"": FieldError("refused", str(refused.errors()[0]["msg"]))}
        )
        invalid = Invalid(str(triage_id), "promote", values, errors)
        return await _page(request, visitor, invalid, status_code=UNPROCESSABLE)
    # Back to the list, not to the alert: a CLA usually has more SMS to go through, and
    # the decision's row links to the alert.
    return back_to(PAGE, Flash("done", "promoted"))


@router.post(PAGE + "/{triage_id}/dismiss", response_model=None)
async def dismiss(
    request: Request, triage_id: UUID, visitor: Poster, reason: Text = ""
) -> HTMLResponse | RedirectResponse:
    """Set the SMS aside with the CLA's reason (required)."""
    if not visitor.may(Action.TRIAGE_SMS):
        return _forbidden(request, visitor)
    values = {"reason": " ".join(reason.split())}
    errors: dict[str, FieldError] = {}
    if not values["reason"]:
        errors["reason"] = FieldError("missing", "required")
    elif len(values["reason"]) > DISMISS_REASON_MAX:
        errors["reason"] = FieldError("string_too_long", "too long", DISMISS_REASON_MAX)
    if not errors:
        try:
            await sms_triage.dismiss(visitor.context, visitor.person, triage_id, values["reason"])
        except TriageClosed:
            return back_to(PAGE, Flash("refused", "dismissed", "triage_closed"))
        except InvalidRequest as refused:
            errors = _problems(refused)
    if errors:
        invalid = Invalid(str(triage_id), "dismiss", values, errors)
        return await _page(request, visitor, invalid, status_code=UNPROCESSABLE)
    return back_to(PAGE, Flash("done", "dismissed"))
