"""The API's documentation works offline and offers "Authorize" for the bearer token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.ingest.service import IngestService
from shared.settings import Settings

# A URL with a host: anything but the page's own origin would be fetched from elsewhere.
_ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
_LOCAL = ("//127.0.0.1", "//localhost", "//test/")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = IngestService(Settings(env="development")).app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)="([^"]+)\"""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_pages_load_nothing_from_elsewhere(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    external = [url for url in _ABSOLUTE_URL.findall(response.text) if not url.startswith(_LOCAL)]
    assert external == []
    assets = _assets(response.text)
    assert len(assets) >= 2  # the script and the favicon (and Swagger's stylesheet)
    for asset in assets:
        assert asset.startswith("/docs-assets/")
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 1000


async def test_swagger_ui_has_no_validator_badge(client: httpx.AsyncClient) -> None:
    # The badge would send the API's description to validator.swagger.io.
    assert '"validatorUrl": null' in (await client.get("/docs")).text


async def test_the_bearer_scheme_is_declared_and_every_v1_route_needs_it(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["bearer"]["bearerFormat"] == "JWT"
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    v1 = {key: op for key, op in operations.items() if key[1].startswith("/v1/")}
    assert v1
    # A person's bearer token everywhere but the partners' feed, which takes a partner's,
    # and the CAP import, which takes either.
    partners = {("get", "/v1/cap/feed"), ("get", "/v1/cap/alerts/{alert_id}")}
    either = {("post", "/v1/cap")}
    persons = {key for key, op in v1.items() if op.get("security") == [{"bearer": []}]}
    assert set(v1) - persons == partners | either
    assert all(v1[key]["security"] == [{"partner": []}] for key in partners)
    assert v1["post", "/v1/cap"]["security"] == [{"bearer": []}, {"partner": []}]
    assert schemes["partner"]["scheme"] == "bearer"
    public = {key: op for key, op in operations.items() if not key[1].startswith("/v1/")}
    assert all("security" not in op for op in public.values())
    # The header is the scheme's, not a parameter of its own.
    assert not any(
        p.get("name", "").lower() == "authorization"
        for op in operations.values()
        for p in op.get("parameters", [])
    )
