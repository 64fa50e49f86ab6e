"""What coord answers an SMS, in the sender's language, each answer one GSM-7 SMS."""

from __future__ import annotations

from shared.sms.segments import fit

ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "not_understood": (
            "COORD: not understood. Reply ACK <code> to acknowledge an alert, "
            "RES <code> to resolve it."
        ),
        "unknown_alert": "COORD: no open alert {code} for you. Nothing was done.",
        "none_open": "COORD: you have no open alert. Nothing was done.",
        "which_alert": "COORD: you have open alerts {codes}. Reply ACK <code>.",
        "acknowledge": "COORD {code}: acknowledged. Thank you.",
        "resolve": "COORD {code}: resolved. Thank you.",
        "refused": "COORD {code}: not done: {reason}",
        "pending": "COORD {code}: received; being processed.",
        "receipt": "COORD: the mission received your alert. Reference {reference}. Thank you.",
    },
    "fr": {
        "not_understood": (
            "COORD: message non compris. Répondez ACC <code> pour accuser réception "
            "d'une alerte, RES <code> pour la clore."
        ),
        "unknown_alert": "COORD: pas d'alerte ouverte {code} pour vous. Rien n'a été fait.",
        "none_open": "COORD: vous n'avez pas d'alerte ouverte. Rien n'a été fait.",
        "which_alert": "COORD: vous avez les alertes ouvertes {codes}. Répondez ACC <code>.",
        "acknowledge": "COORD {code}: réception accusée. Merci.",
        "resolve": "COORD {code}: alerte close. Merci.",
        "refused": "COORD {code}: non fait: {reason}",
        "pending": "COORD {code}: reçu; en cours de traitement.",
        "receipt": "COORD: la mission a bien reçu votre alerte. Référence {reference}. Merci.",
    },
}
# Said to a number coord does not know: it knows no language for it, so both.
UNKNOWN_SENDER = (
    "COORD: numero inconnu / number not registered. Rien n'a ete fait / nothing was done."
)


# The router says why it refused in English, for logs and the API; a French reader gets
# the gist of it by kind (shared.contracts.commands.Refusal).
REFUSALS: dict[str, dict[str, str]] = {
    "fr": {
        "not_found": "alerte inconnue pour vous",
        "not_allowed": "vous n'êtes pas sur la chaîne de cette alerte",
        "wrong_state": "l'alerte est déjà close ou fusionnée",
    },
}


def refusal_reason(language: str, refusal: str | None, reason: str) -> str:
    """Why a reply was refused, in ``language`` if coord has it, else the router's words."""
    return REFUSALS.get(language, {}).get(refusal or "", reason)


# An SMS from an unknown number that is not a reply: kept for a CLA to look at.
HELD_FOR_TRIAGE = (
    "COORD: message recu, il sera examine par la mission / message received, "
    "the mission will review it."
)


def answer(language: str, key: str, *, reason: str = "", **fields: str) -> str:
    """The answer ``key`` in ``language`` (English if coord has none in it), one SMS.

    A refusal's ``reason`` (the router's words) is cut to fit.
    """
    words = ANSWERS.get(language, ANSWERS["en"])
    return fit(words[key], fields, {"reason": reason})
