"""Real-browser tests: Debian's ``chromium`` driven by Playwright for Python.

The browser is the system's ``chromium`` (``make infra`` installs it with
deploy/scripts/ensure-chromium.sh), never one of Playwright's own downloads: ``playwright
install`` is not part of ``make test`` and needs network access CI may not have.

Usage::

    async with launch_chromium() as browser:
        officer = await new_page(browser)  # one simulated user: own cookies and storage
        await officer.goto(url)
        await screenshot(officer, "board-alerts")  # docs/img/board-alerts.png, if asked

:func:`screenshot` writes only when ``COORD_SCREENSHOTS=1`` is set: run the tests that take
screenshots with it to refresh the images of docs/img/; CI (and ``make test``) leaves the
tree untouched.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

# Where screenshot() writes: the repository's docs/img/ (tests/support/browser.py -> ../..).
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"

# The environment variable that turns screenshot() on (value "1").
SCREENSHOTS_ENV = "COORD_SCREENSHOTS"

# A screenshot's name becomes a file name under docs/img/: no directories, no dot-files.
_SCREENSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """A headless Chromium (the ``chromium`` on PATH), closed on exit with its pages.

    Fails the test - it does not skip it - when ``chromium`` is missing: a browser test
    that skips on a machine without a browser would let CI go green without ever running
    it.
    """
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium is not on PATH: `make infra` installs it (as root, with apt-get; "
            "deploy/scripts/ensure-chromium.sh), or run `apt-get install chromium`",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Chromium refuses to start as root with its sandbox on, and Debian's setuid
            # sandbox helper (chromium-sandbox) is only recommended, so not installed by
            # ensure-chromium.sh: the tests open only pages of the system under test.
            args=["--no-sandbox"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser,
    *,
    width: int = 1280,
    height: int = 800,
    locale: str = "en-GB",
    timezone_id: str = "Africa/Kinshasa",
    base_url: str | None = None,
) -> Page:
    """A page in a fresh browser context: one simulated user, with cookies and storage of
    its own, so two officers signed in side by side do not share a session.

    The locale and time zone are fixed (a mission in eastern DRC by default) so that the
    dates and numbers the pages render do not depend on the machine the tests run on.
    ``base_url`` lets ``page.goto("/path")`` name paths only. The context closes with the
    browser; ``await page.context.close()`` ends it earlier.
    """
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        timezone_id=timezone_id,
        base_url=base_url,
    )
    return await context.new_page()


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page PNG of ``page`` as ``docs/img/<name>.png`` when ``COORD_SCREENSHOTS=1``.

    Otherwise does nothing, so that ``make test`` and CI never change the tree; the images
    in docs/img/ are refreshed on purpose, by running the tests that take them with
    ``COORD_SCREENSHOTS=1``. ``name`` is a plain file stem (``board-alerts``), no path.
    Animations are stopped first, so that the same page gives the same picture.
    """
    if not _SCREENSHOT_NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r} is not a plain file stem")
    if os.environ.get(SCREENSHOTS_ENV) != "1":
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    await page.screenshot(
        path=SCREENSHOT_DIR / f"{name}.png", full_page=True, animations="disabled"
    )
