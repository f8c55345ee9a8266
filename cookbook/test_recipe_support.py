"""The promises recipe_support.py keeps for every Python recipe: refuse a port that answers, stop
with the API's own error message."""

import socket

import httpx
import pytest

import aiproxy_sdk.processes
from recipe_support import RecipeFailed, expect, start_gateway


def test_a_gateway_is_not_started_on_a_port_where_something_answers(tmp_path, monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(aiproxy_sdk.processes, "free_ports", lambda count: [port] * count)
        with pytest.raises(RecipeFailed) as stopped:
            start_gateway(tmp_path, {})
    assert stopped.value.code == 1
    assert f"something already answers on 127.0.0.1:{port}" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.log"))  # nothing was started


def test_an_unexpected_answer_stops_the_recipe_with_the_error_envelopes_message(capsys):
    request = httpx.Request("POST", "http://127.0.0.1:1/api/v1/tenants")
    envelope = {"error": {"type": "invalid_request_error", "code": "subdomain_taken", "message": "subdomain 'acme' is already used"}}
    with pytest.raises(RecipeFailed) as stopped:
        expect(httpx.Response(409, json=envelope, request=request))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "recipe failed: POST /api/v1/tenants answered 409 subdomain_taken: subdomain 'acme' is already used (expected 200, 201, 204)")
    assert expect(httpx.Response(201, request=request)).status_code == 201
