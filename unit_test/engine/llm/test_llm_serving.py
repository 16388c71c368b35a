"""Our OpenAI-compatible server: routes, streaming, exact output lengths, and a clean stop."""

from __future__ import annotations

import json
import urllib.request

import pytest

from engine.serving.process import Server, free_port, group_members, port_open, python_module

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses


@pytest.fixture(scope="module")
def server(tiny_folder, tmp_path_factory):
    port = free_port()
    command = python_module(
        "engine.serving.openai_server", "--model", str(tiny_folder), "--port", str(port), "--served-name", "tiny"
    )
    srv = Server(command, port, tmp_path_factory.mktemp("server") / "server.log")
    try:
        srv.wait_healthy(120)
        yield srv
    finally:
        srv.stop()
        assert group_members(srv.pgid) == [] and not port_open(port)


def _post(server, route: str, body: dict) -> bytes:
    request = urllib.request.Request(
        server.url + route, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def test_models_route(server):
    with urllib.request.urlopen(server.url + "/v1/models", timeout=10) as response:
        assert [m["id"] for m in json.load(response)["data"]] == ["tiny"]


def test_completion_with_ignore_eos_generates_exactly_max_tokens(server):
    out = json.loads(
        _post(server, "/v1/completions", {"prompt": "A man walks to", "max_tokens": 7, "ignore_eos": True})
    )
    assert out["usage"]["completion_tokens"] == 7 and out["choices"][0]["finish_reason"] == "length"
    assert isinstance(out["choices"][0]["text"], str)


def test_streaming_chat_sends_a_chunk_per_token_and_usage_last(server):
    body = {
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 5,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    lines = [line for line in _post(server, "/v1/chat/completions", body).decode().splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: ") :]) for line in lines[:-1]]
    content = [c for c in chunks if c["choices"][0].get("delta", {}).get("content") is not None]
    assert len(content) == 5
    assert chunks[-1]["usage"]["completion_tokens"] == 5 and chunks[-1]["object"] == "chat.completion.chunk"
