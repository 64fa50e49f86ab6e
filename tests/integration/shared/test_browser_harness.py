"""The real-browser harness (tests/support/browser.py) drives the system's chromium.

A guard, quick on purpose: when Debian's chromium, Playwright's driver or the harness
breaks, this fails in seconds, before any browser test of the product is blamed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.support import browser as harness
from tests.support.browser import launch_chromium, new_page, screenshot
from tests.support.receiver import free_port

pytestmark = pytest.mark.integration

# A button whose click the page's own script answers: proves JavaScript and input events
# work, not only HTML rendering. The cookie shows whether two users share a session.
PAGE = b"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness</title></head>
<body>
  <p id="status">Alert not acknowledged</p>
  <button id="ack" type="button">Acknowledge</button>
  <script>
    document.getElementById("ack").addEventListener("click", () => {
      document.getElementById("status").textContent = "Acknowledged by jo.operator";
      document.cookie = "signed_in=jo.operator; path=/";
    });
  </script>
</body>
</html>
"""


@asynccontextmanager
async def serve_page() -> AsyncIterator[str]:
    """Serve :data:`PAGE` for every GET on 127.0.0.1:<free port>; yield its base URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # The request line and headers, up to the blank line; a GET has no body.
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            writer.write(
                b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: " + str(len(PAGE)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + PAGE
            )
            await writer.drain()
        finally:
            writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_chromium_clicks_a_button_and_the_page_script_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve_page() as base_url, launch_chromium() as browser:
        officer = await new_page(browser, base_url=base_url)
        await officer.goto("/alert")
        status = officer.locator("#status")
        assert await status.text_content() == "Alert not acknowledged"

        await officer.get_by_role("button", name="Acknowledge").click()

        assert await status.text_content() == "Acknowledged by jo.operator"
        # The context's locale and time zone, not the machine's.
        assert await officer.evaluate("navigator.language") == "en-GB"
        assert (
            await officer.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
            == "Africa/Kinshasa"
        )

        # Another simulated user: a context of its own, without the first one's cookie.
        other = await new_page(browser, base_url=base_url)
        await other.goto("/alert")
        assert await other.evaluate("document.cookie") == ""
        assert await officer.evaluate("document.cookie") == "signed_in=jo.operator"

        # screenshot() writes only when asked to, and then a full-page PNG.
        monkeypatch.setattr(harness, "SCREENSHOT_DIR", tmp_path)
        monkeypatch.delenv(harness.SCREENSHOTS_ENV, raising=False)
        await screenshot(officer, "harness")
        assert not (tmp_path / "harness.png").exists()
        monkeypatch.setenv(harness.SCREENSHOTS_ENV, "1")
        await screenshot(officer, "harness")
        assert (tmp_path / "harness.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        with pytest.raises(ValueError, match="plain file stem"):
            await screenshot(officer, "../harness")
