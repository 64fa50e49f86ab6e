"""Raise an alert from a form: the contract's fields, each error shown beside its field.

The alert is accepted by the same service function as ``POST /v1/alerts``; the form's
hidden Idempotency-Key makes a double click (or a re-post on a poor link) one alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from services.ingest.alerts import service as alerts
from services.ingest.alerts.service import AboveClearance, UnknownSector
from services.ingest.board.flash import Flash, flash
from services.ingest.board.pages import render
from services.ingest.board.session import Poster, Reader, Visitor
from services.ingest.idempotency import IdempotencyKeyReused
from shared.addressing import cleared_classifications
from shared.contracts.alerts import Category, Certainty, Component, RaiseAlertV1, Severity, Urgency
from shared.permissions import Action

router = APIRouter(include_in_schema=False)

TEXT_FIELDS = ("title", "description", "sector", "location.name", "source.name", "source.contact")
CHOICE_FIELDS = ("category", "severity", "urgency", "certainty", "origin", "classification")
NUMBER_FIELDS = ("location.lat", "location.lon")
UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field: pydantic's error ``kind`` (the page words it) and text."""

    kind: str
    text: str
    limit: Any = None


def _choices(visitor: Visitor) -> dict[str, list[str]]:
    return {
        "category": [c.value for c in Category],
        "severity": [s.value for s in Severity],
        "urgency": [u.value for u in Urgency],
        "certainty": [c.value for c in Certainty],
        "origin": [c.value for c in Component],
        # Never above one's own clearance: one could not read what one raised.
        "classification": [c.value for c in cleared_classifications(visitor.person)],
        "sector": list(visitor.context.directory.sectors),
    }


def _form(
    request: Request,
    visitor: Visitor,
    values: dict[str, str],
    errors: dict[str, FieldError],
    *,
    key: str,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "raise.html",
        visitor,
        status_code=status_code,
        values=values,
        errors=errors,
        choices=_choices(visitor),
        idempotency_key=key,
        may_raise=visitor.may(Action.RAISE_ALERT),
    )


@router.get("/alerts/new", response_class=HTMLResponse)
async def new_alert(request: Request, visitor: Reader) -> HTMLResponse:
    """The empty form."""
    defaults = {"origin": "community", "classification": "unclassified", "certainty": "observed"}
    return _form(request, visitor, defaults, {}, key=str(uuid.uuid4()))


def _body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, FieldError]]:
    """The request body the form's values make, and the numbers that are not numbers."""
    body: dict[str, Any] = {n: values[n] for n in (*CHOICE_FIELDS, "title", "sector") if values[n]}
    body["description"] = values["description"]
    location: dict[str, Any] = {"name": values["location.name"]}
    errors: dict[str, FieldError] = {}
    for name in NUMBER_FIELDS:
        if values[name]:
            try:
                location[name.split(".")[1]] = float(values[name].replace(",", "."))
            except ValueError:
                errors[name] = FieldError("float_parsing", "not a number")
    body["location"] = location
    if values["source.name"] or values["source.contact"]:
        body["source"] = {
            "name": values["source.name"],
            "contact": values["source.contact"] or None,
        }
    return body, errors


@router.post("/alerts/new", response_model=None)
async def raise_alert(request: Request, visitor: Poster) -> HTMLResponse | RedirectResponse:
    """Raise the alert the form describes; the form again, with its errors, if it is not valid."""
    form = await request.form()
    values = {
        name: str(form.get(name, "")).strip()
        for name in (*TEXT_FIELDS, *CHOICE_FIELDS, *NUMBER_FIELDS)
    }
    key = str(form.get("idempotency_key", "")) or str(uuid.uuid4())
    if not visitor.may(Action.RAISE_ALERT):
        return _form(request, visitor, values, {}, key=key, status_code=status.HTTP_403_FORBIDDEN)
    body, errors = _body(values)
    try:
        request_ = RaiseAlertV1.model_validate(body)
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            limit = (problem.get("ctx") or {}).get("max_length")
            errors.setdefault(where, FieldError(problem["type"], problem["msg"], limit))

    def unprocessable() -> HTMLResponse:
        return _form(request, visitor, values, errors, key=key, status_code=UNPROCESSABLE)

    if errors:
        return unprocessable()
    context = visitor.context
    try:
        accepted = await alerts.raise_alert(
            context.sessions,
            context.directory,
            visitor.person.id,
            request_,
            f"board-{key}",
            keys=context.source_keys,
        )
    except (UnknownSector, AboveClearance) as refused:
        for location, message in refused.problems:
            errors[".".join(map(str, location))] = FieldError("refused", message)
        return unprocessable()
    except IdempotencyKeyReused:
        # The same form posted again with other values after its alert was raised.
        errors["title"] = FieldError("reused", "this form was already sent")
        return _form(
            request,
            visitor,
            values,
            errors,
            key=str(uuid.uuid4()),
            status_code=status.HTTP_409_CONFLICT,
        )
    response = RedirectResponse(f"/alerts/{accepted.id}", status_code=status.HTTP_303_SEE_OTHER)
    flash(response, Flash("done", "raised"))
    return response
