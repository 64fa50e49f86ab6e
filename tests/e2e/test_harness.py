"""Self-test of the e2e harness pieces that need no running system."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import yaml

from tests.e2e.harness import WEBHOOK_PEOPLE, alert_body, wait_until
from tests.support.directories import directory_for
from tests.support.receiver import WebhookReceiver, sign


@pytest.mark.asyncio
async def test_receiver_records_posts_and_answers_configured_status() -> None:
    async with WebhookReceiver() as receiver:
        receiver.respond("col.okafor", 500)
        body = json.dumps({"alert_id": "a1", "person_id": "awa.hfo"}).encode()
        signature = sign(body)
        async with httpx.AsyncClient(base_url=receiver.base_url) as client:
            ok = await client.post(
                "/awa.hfo", content=body, headers={"X-Coord-Signature": signature}
            )
            failing = await client.post("/col.okafor", json={"alert_id": "a1"})
            again = await client.post("/awa.hfo?x=1", json={"alert_id": "a2"})  # keep-alive reuse

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"alert_id": '
                yield b'"a3"}'

            chunked = await client.post("/insp.diallo", content=chunks())
            get = await client.get("/awa.hfo")
        assert (ok.status_code, failing.status_code, again.status_code) == (200, 500, 200)
        assert chunked.status_code == 200
        assert get.status_code == 200

        assert len(receiver.requests) == 5
        assert len(receiver.receipts) == 4  # POSTs only
        first = receiver.receipts[0]
        assert first.body == body
        assert first.header("X-Coord-Signature") == signature
        assert first.signature_error() is None
        assert receiver.receipts[1].signature_error() is not None  # not signed
        assert first.person_id == "awa.hfo"
        assert receiver.receipts[2].path == "/awa.hfo"
        assert receiver.receipts[3].json() == {"alert_id": "a3"}
        assert [r.status for r in receiver.receipts] == [200, 500, 200, 200]
        assert len(receiver.receipts_for("awa.hfo")) == 2
        assert len(receiver.receipts_for(alert_id="a1")) == 2
        assert receiver.pair_counts() == {
            ("a1", "awa.hfo"): 1,
            ("a1", "col.okafor"): 1,
            ("a2", "awa.hfo"): 1,
            ("a3", "insp.diallo"): 1,
        }
        assert receiver.pair_counts(only_2xx=True)[("a1", "col.okafor")] == 0


@pytest.mark.asyncio
async def test_receiver_handles_many_concurrent_connections() -> None:
    async with WebhookReceiver() as receiver:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=receiver.base_url, limits=limits) as client:
            responses = await asyncio.gather(
                *(client.post(f"/p{i % 5}", json={"alert_id": str(i)}) for i in range(300))
            )
        assert {r.status_code for r in responses} == {200}
        assert len(receiver.receipts) == 300


@pytest.mark.asyncio
async def test_wait_until() -> None:
    state = {"n": 0}

    def bump() -> int:
        state["n"] += 1
        return state["n"] >= 3 and state["n"]

    assert await wait_until(bump, timeout=5, interval=0.01) == 3

    async def never() -> bool:
        raise AssertionError("still not")

    with pytest.raises(AssertionError, match="still not"):
        await wait_until(never, timeout=0.2, interval=0.05, message="never")


def test_directory_points_webhooks_at_the_receiver() -> None:
    directory = directory_for("http://127.0.0.1:1234")
    yaml.safe_load(yaml.safe_dump(directory))
    hooks = {
        p["id"]: c["address"]
        for p in directory["people"]
        for c in p["contacts"]
        if c["channel"] == "webhook"
    }
    assert hooks == {p: f"http://127.0.0.1:1234/{p}" for p in WEBHOOK_PEOPLE}
    assert alert_body()["sector"] in directory["sectors"]
