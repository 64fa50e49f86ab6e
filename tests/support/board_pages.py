"""Driving the board (services/ingest/board) in a real browser: who is signed in, its parts.

:class:`Boards` holds the browser of a test module and one page per person signed in to a
system's board (each in a browser context of its own: its own cookies, so its own
session), made on first use and kept for the module's later tests, since signing in takes a
context, a page load and a redirect. Everything else here reads or drives a board page as a
person would, through the selectors the templates promise (``li.alert-row[data-alert-id]``,
``#live-status[data-state]``, ``span.count[data-counter]``...).

The stream probe (:func:`open_stream_probe`) reads ``/board/stream`` from inside a signed-in
page, with the page's own cookies: the raw text of every frame, so that a test can say what
the stream carried to that person, whatever the event type.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from shared.action_links import MAC_BYTES
from tests.support.browser import new_page

# How long a page may take to show what it was told (a page load, a form's redirect with the
# router's verdict): a liveness bound, not a performance one.
SHOWN_MS = 10_000

# The signed header of an action link (shared/action_links.py, "Layout of the signed
# bytes"): version, action, alert UUID, expiry, nonce; the person id follows, then the MAC.
_LINK_HEADER_BYTES = struct.calcsize(">BB16sI8s")


class Boards:
    """The module's browser, and the people signed in to a board in it (one context each)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._pages: dict[tuple[str, str, bool], Page] = {}

    async def anonymous(self, base_url: str, *, phone: bool = False) -> Page:
        """A page of nobody signed in (a fresh context: no cookie), ``base_url`` its base."""
        width, height = (360, 740) if phone else (1280, 800)
        return await new_page(self.browser, width=width, height=height, base_url=base_url)

    async def signed_in(self, base_url: str, person_id: str, *, phone: bool = False) -> Page:
        """``person_id``'s page on the board at ``base_url``, signed in with the picker.

        The same page for every later call (``phone``: another one, 360 px wide); it may be
        on any page of the board: tests go where they need to.
        """
        key = (base_url, person_id, phone)
        page = self._pages.get(key)
        if page is None or page.is_closed():
            page = await self.anonymous(base_url, phone=phone)
            await sign_in(page, person_id)
            self._pages[key] = page
        return page

    def adopt(self, base_url: str, person_id: str, page: Page) -> None:
        """Keep ``page``, signed in as ``person_id`` by the test, for the later tests."""
        self._pages[(base_url, person_id, False)] = page


async def sign_in(page: Page, person_id: str, next_path: str = "/board") -> None:
    """Sign in with the development picker and wait for the board (or ``next_path``)."""
    await page.goto(f"/signin?next={next_path}")
    await page.locator(f"button[data-person='{person_id}']").click()
    await page.wait_for_url(f"**{next_path}", timeout=SHOWN_MS)


async def open_board(page: Page, path: str = "/board") -> None:
    """Load the board and wait until its stream is connected (``#live-status`` live)."""
    await page.goto(path)
    await expect(page.locator("#live-status")).to_have_attribute(
        "data-state", "live", timeout=SHOWN_MS
    )


def alert_row(page: Page, alert_id: str) -> Locator:
    """The board's row of the alert."""
    return page.locator(f"li.alert-row[data-alert-id='{alert_id}']")


def counter(page: Page, name: str) -> Locator:
    """A counter's number: ``triggered``, ``acknowledged``, ``resolved`` or ``exhausted``."""
    return page.locator(f"span.count[data-counter='{name}']")


async def counters(page: Page) -> dict[str, int]:
    """The board's counters as they show now."""
    names = ("triggered", "acknowledged", "resolved", "exhausted")
    return {name: int((await counter(page, name).inner_text()).strip()) for name in names}


async def board_words(page: Page) -> dict[str, str]:
    """The board's own words, by where they are: its heading, the live indicator, each
    counter's label and each filter's label (what a language switch must change)."""
    words: dict[str, str] = await page.evaluate(
        """() => {
            const words = {};
            const text = (el) => (el ? el.textContent.trim() : "");
            words.heading = text(document.querySelector("main h1"));
            words.live = text(document.getElementById("live-status"));
            document.querySelectorAll("nav.counters a.counter").forEach((link) => {
                const copy = link.cloneNode(true);
                copy.querySelectorAll(".count").forEach((count) => count.remove());
                words["counter " + link.querySelector(".count").dataset.counter] = text(copy);
            });
            document.querySelectorAll("form.filters label").forEach((label) => {
                const field = label.querySelector("select, input");
                const name = field ? field.name : "?";
                words["filter " + name] = [...label.childNodes]
                    .filter((node) => node.nodeType === Node.TEXT_NODE)
                    .map((node) => node.textContent.trim()).join(" ").trim();
            });
            return words;
        }"""
    )
    return words


async def mark(page: Page) -> str:
    """Put a mark in the page's window: it is gone if the page is reloaded or left."""
    value = secrets.token_hex(8)
    await page.evaluate("value => { window.__coordMark = value; }", value)
    return value


async def still_marked(page: Page, value: str) -> bool:
    """Whether the page still holds the mark :func:`mark` put: not reloaded since."""
    found = await page.evaluate("() => window.__coordMark || null")
    return bool(found == value)


# --------------------------------------------------------------------------- stream probe

_OPEN_PROBE = """
() => new Promise((resolve) => {
  const probe = { text: "", done: false, error: null, status: 0,
                  controller: new AbortController() };
  window.__coordProbe = probe;
  fetch("/board/stream", { signal: probe.controller.signal, credentials: "same-origin",
                           headers: { Accept: "text/event-stream" } })
    .then((response) => {
      probe.status = response.status;
      probe.type = response.headers.get("content-type") || "";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let first = true;
      const pump = () => reader.read().then(({ value, done }) => {
        if (done) { probe.done = true; resolve(probe.type); return null; }
        probe.text += decoder.decode(value, { stream: true });
        if (first) { first = false; resolve(probe.type); }
        return pump();
      });
      return pump();
    })
    .catch((error) => {
      probe.done = true;
      probe.error = String(error);
      resolve(probe.type || "");
    });
})
"""


@dataclass(frozen=True)
class Frame:
    """One server-sent event as the probe read it."""

    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


async def open_stream_probe(page: Page) -> str:
    """Open ``/board/stream`` inside ``page`` (its cookies) and keep reading it; returns the
    answer's content type once its first bytes (``: connected``, sent once subscribed) came."""
    content_type: str = await page.evaluate(_OPEN_PROBE)
    return content_type


async def stream_text(page: Page, *, stop: bool = False) -> str:
    """Everything the probe read so far (``stop``: and close it)."""
    text: str = await page.evaluate(
        """stop => {
            const probe = window.__coordProbe;
            if (!probe) return "";
            if (stop) probe.controller.abort();
            return probe.text;
        }""",
        stop,
    )
    return text


def frames(text: str) -> list[Frame]:
    """The events of a text/event-stream (comments and keep-alives left out)."""
    out: list[Frame] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            out.append(Frame(event, "\n".join(data)))
    return out


# --------------------------------------------------------------------------- action links


def link_token(url: str) -> str:
    """The token of an action link ``<public url>/l/<token>``."""
    head, _, token = url.rstrip("/").rpartition("/l/")
    if not head or not token:
        raise ValueError(f"not an action link: {url!r}")
    return token


def with_person(token: str, person_id: str) -> str:
    """``token`` with its person id replaced by ``person_id``, its MAC kept: a forgery."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    header, mac = raw[:_LINK_HEADER_BYTES], raw[-MAC_BYTES:]
    forged = header + person_id.encode() + mac
    return base64.urlsafe_b64encode(forged).rstrip(b"=").decode("ascii")
