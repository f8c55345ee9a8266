"""The mock upstream's own failures: a client's mistake is a 400, its own bug one log line (never a
traceback) under its own logger name, and a 500 in OpenAI's envelope."""

from __future__ import annotations

import logging

import httpx
import pytest

from aiproxy_core.mock_upstream import app as mock_app
from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_core.mock_upstream.own_logs import MOCK_LOGGER_NAME, mock_logger

CHAT = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_mock_upstream()), base_url="http://mock")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Mock-Status": "500", "X-Mock-Fail-Times": b"\xb2"},  # "²": str.isdigit() says yes, int() no
        {"X-Mock-Status": "500", "X-Mock-Fail-Times": "9" * 5000},  # more digits than int() reads
        {"X-Mock-Context-Window": b"\xb2"},
        {"X-Mock-Context-Window": "1" * 5000},
    ],
)
async def test_header_numbers_int_refuses_are_400s(headers):
    async with client() as mock:
        response = await mock.post("/v1/chat/completions", headers=headers, json=CHAT)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_mock_header"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/v1/messages"])
async def test_json_nested_too_deep_is_a_400(path):
    async with client() as mock:
        response = await mock.post(path, content=b"[" * 100_000)
    assert response.status_code == 400


async def test_a_bug_of_the_mock_is_one_line_on_its_logger_and_a_500(monkeypatch, caplog):
    async def broken(request, stream_delay):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(mock_app, "chat_completions", broken)
    async with client() as mock:
        response = await mock.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "mock_internal_error"
    [record] = [r for r in caplog.records if r.name == MOCK_LOGGER_NAME]
    assert record.getMessage() == "[mock-upstream] POST /v1/chat/completions failed: RuntimeError: boom"
    assert not record.exc_info


def test_a_traceback_logged_on_the_mocks_logger_becomes_part_of_its_line(caplog):
    """What uvicorn logs through the mock's protocol (an exception after the answer started)."""
    logger = mock_logger()
    try:
        raise ValueError("50% broken")
    except ValueError as exc:
        logger.error("Exception in ASGI application", exc_info=exc)
        logger.error("%s failed", "it", exc_info=exc)  # with args: the summary's % is escaped
    first, second = [r for r in caplog.records if r.name == MOCK_LOGGER_NAME]
    assert first.getMessage() == "[mock-upstream] Exception in ASGI application (ValueError: 50% broken)"
    assert second.getMessage() == "[mock-upstream] it failed (ValueError: 50% broken)"
    record = first
    assert not record.exc_info and "Traceback" not in caplog.text

    caplog.clear()
    logger.setLevel(logging.DEBUG)  # debugging the mock: its tracebacks are wanted then
    try:
        try:
            raise ValueError("kept")
        except ValueError as exc:
            logger.error("Exception in ASGI application", exc_info=exc)
    finally:
        logger.setLevel(logging.NOTSET)
    [record] = [r for r in caplog.records if r.name == MOCK_LOGGER_NAME]
    assert record.exc_info is not None
