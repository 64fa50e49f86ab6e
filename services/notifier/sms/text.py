"""What an SMS says: one SMS, in the person's language, nothing above UNCLASSIFIED.

A page of an unclassified alert carries what the officer needs to act from a phone with
no data: severity, category, sector, place, the title as far as it fits, the alert's
code and how to reply. An alert, message or recommendation above UNCLASSIFIED is only
announced: "a CONFIDENTIAL alert for you", its code, how to reply and the page's one-time
link; its fields stay off the SMS, which crosses an operator's network in clear. The
source is never in a summary, so never here.

Every text is cut to one SMS (``shared.sms.segments``): the title first, then the place.
"""

from __future__ import annotations

from services.notifier.subjects import public_summary
from shared.contracts.notifications import NotificationKind, NotificationRequestedV2, SubjectType
from shared.envelope import Classification
from shared.sms.segments import fit, prepare

Kind = NotificationKind

_ALERT_NOTICES: dict[str, dict[NotificationKind, str]] = {
    "en": {
        Kind.ACKNOWLEDGED: "acknowledged",
        Kind.RESOLVED: "resolved",
        Kind.ESCALATION_EXHAUSTED: "nobody acknowledged, escalation exhausted",
        Kind.TARGET_UNREACHABLE: "someone cannot be paged",
        Kind.UNROUTED: "nobody could be paged",
        Kind.NOBODY_TO_ESCALATE_TO: "nobody to escalate to",
    },
    "fr": {
        Kind.ACKNOWLEDGED: "prise en compte",
        Kind.RESOLVED: "résolue",
        Kind.ESCALATION_EXHAUSTED: "aucune prise en compte, escalade épuisée",
        Kind.TARGET_UNREACHABLE: "une personne ne peut être alertée",
        Kind.UNROUTED: "personne n'a pu être alerté",
        Kind.NOBODY_TO_ESCALATE_TO: "personne à qui transmettre",
    },
}

_OTHER_KINDS: dict[str, dict[NotificationKind, str]] = {
    "en": {
        Kind.MESSAGE: "message",
        Kind.MESSAGE_UNDELIVERED: "message not delivered to all",
        Kind.MESSAGE_UNACKNOWLEDGED: "message not acknowledged in time",
        Kind.RECOMMENDATION: "recommendation for you",
        Kind.RECOMMENDATION_ANSWERED: "recommendation answered",
        Kind.RECOMMENDATION_OVERDUE: "recommendation overdue",
        Kind.NOBODY_TO_ESCALATE_TO: "nobody to escalate to",
    },
    "fr": {
        Kind.MESSAGE: "message",
        Kind.MESSAGE_UNDELIVERED: "message non remis à tous",
        Kind.MESSAGE_UNACKNOWLEDGED: "message sans accusé de réception à temps",
        Kind.RECOMMENDATION: "recommandation pour vous",
        Kind.RECOMMENDATION_ANSWERED: "réponse à une recommandation",
        Kind.RECOMMENDATION_OVERDUE: "recommandation en retard",
        Kind.NOBODY_TO_ESCALATE_TO: "personne à qui transmettre",
    },
}

_SEVERITIES = {
    "fr": {
        "extreme": "EXTREME",
        "severe": "GRAVE",
        "moderate": "MODEREE",
        "minor": "MINEURE",
        "unknown": "gravité inconnue",
    },
}

_CATEGORIES = {
    "fr": {
        "attack_on_civilians": "attaque contre des civils",
        "threat_of_attack": "menace d'attaque",
        "abduction": "enlèvement",
        "sexual_violence": "violence sexuelle",
        "displacement": "déplacement",
        "armed_group_movement": "mouvement de groupe armé",
        "looting": "pillage",
        "other": "autre",
    },
}

# The marking as each language writes it, agreeing with the noun it follows in French.
_MARKINGS = {
    "en": {"confidential": "CONFIDENTIAL", "strictly_confidential": "STRICTLY CONFIDENTIAL"},
    "fr": {"confidential": "CONFIDENTIEL", "strictly_confidential": "STRICTEMENT CONFIDENTIEL"},
}
_FEMININE = {SubjectType.ALERT, SubjectType.RECOMMENDATION}  # une alerte, une recommandation

_TEMPLATES = {
    "en": {
        "page": "{head}: {severity} {category} in {sector}, {place}: {title}. {reply}",
        "reply": "Reply ACK {code}",
        "reply_any": "Reply ACK",
        "short_reply": "Reply ACK {code}",
        "notice": "{head}: {notice}. {severity} {category} in {sector}, {place}: {title}",
        "sealed_page": "{head}: a {marking} alert for you. {reply}",
        "sealed_link_page": "{head}: {marking} alert. {reply} or {link}",
        "sealed_notice": "{head}: {marking} alert: {notice}.",
        "other": "COORD: {kind}: {title}. Open coord to read it.",
        "sealed_other": "COORD: a {marking} {subject} for you. Open coord to read it.",
        "alert": "alert",
        "message": "message",
        "recommendation": "recommendation",
    },
    "fr": {
        "page": "{head}: {category} {severity}, secteur {sector}, {place}: {title}. {reply}",
        "reply": "Répondez ACC {code}",
        "reply_any": "Répondez ACC",
        "short_reply": "ACC {code}",
        "notice": ("{head}: {notice}. {category} {severity}, secteur {sector}, {place}: {title}"),
        "sealed_page": "{head}: alerte {marking} pour vous. {reply}",
        "sealed_link_page": "{head}: alerte {marking}. {short_reply} ou {link}",
        "sealed_notice": "{head}: alerte {marking}: {notice}.",
        "other": "COORD: {kind}: {title}. Ouvrez coord pour le lire.",
        "sealed_other": "COORD: {subject} {marking} pour vous. Ouvrez coord pour le lire.",
        "alert": "alerte",
        "message": "message",
        "recommendation": "recommandation",
    },
}


def _language(request: NotificationRequestedV2) -> str:
    return request.language if request.language in _TEMPLATES else "en"


def _feedback_text(request: NotificationRequestedV2) -> str:
    reference = _text(request.summary.get("reference"))
    return f"COORD {reference}: {request.message}" if reference else request.message


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _marking(classification: str, language: str, subject: SubjectType) -> str:
    marking = _MARKINGS[language].get(classification, classification.upper())
    if language == "fr" and subject in _FEMININE:
        marking = marking.replace("CONFIDENTIEL", "CONFIDENTIELLE")
    return marking


def sms_text(request: NotificationRequestedV2, acknowledge_url: str | None = None) -> str:
    """The one SMS for ``request``, in its person's language, GSM-7 where it can be.

    Feedback to a community contact is the officer's text as they released it, whole
    (it may take two SMS), after the reference the reporter got in their receipt.
    """
    if request.kind is NotificationKind.COMMUNITY_FEEDBACK:
        return _feedback_text(request)
    return _notification_text(request, acknowledge_url)


def _notification_text(request: NotificationRequestedV2, acknowledge_url: str | None) -> str:
    language = _language(request)
    words = _TEMPLATES[language]
    summary = public_summary(request)
    classification = _text(summary.get("classification")) or Classification.UNCLASSIFIED.value
    sealed = classification != Classification.UNCLASSIFIED.value
    marking = _marking(classification, language, request.subject_type)
    if request.subject_type is not SubjectType.ALERT:
        if sealed:
            subject = words[request.subject_type.value]
            return fit(words["sealed_other"], {"marking": marking, "subject": subject}, {})
        kind = _OTHER_KINDS[language].get(request.kind, request.kind.value.replace("_", " "))
        return fit(words["other"], {"kind": kind}, {"title": _text(summary.get("title"))})
    code = _text(summary.get("code"))
    head = f"COORD {code}" if code else "COORD"  # an alert from before codes has none
    reply = words["reply"].format(code=code) if code else words["reply_any"]
    if request.kind is NotificationKind.PAGE and sealed:
        # The link if it fits: a long COORD_PUBLIC_URL leaves the reply alone.
        if acknowledge_url is not None and code:
            short = words["short_reply"].format(code=code)
            text = words["sealed_link_page"].format(
                head=head, marking=marking, reply=reply, short_reply=short, link=acknowledge_url
            )
            prepared = prepare(text)
            if prepared.segments == 1:
                return prepared.text
        return fit(words["sealed_page"], {"head": head, "marking": marking, "reply": reply}, {})
    notice = _ALERT_NOTICES[language].get(request.kind, request.kind.value.replace("_", " "))
    if sealed:
        return fit(words["sealed_notice"], {"head": head, "marking": marking, "notice": notice}, {})
    location = summary.get("location")
    severity = _text(summary.get("severity"))
    category = _text(summary.get("category"))
    fixed = {
        "head": head,
        "severity": _SEVERITIES.get(language, {}).get(severity, severity.upper()),
        "category": _CATEGORIES.get(language, {}).get(category, category.replace("_", " ")),
        "sector": _text(summary.get("sector")),
        "reply": reply,
        "notice": notice,
    }
    stretch = {
        "title": _text(summary.get("title")),
        "place": _text(location.get("name", "")) if isinstance(location, dict) else "",
    }
    template = words["page"] if request.kind is NotificationKind.PAGE else words["notice"]
    return fit(template, fixed, stretch)
