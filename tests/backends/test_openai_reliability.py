"""The openai backend against answers a server should not give: content that is not text, a
trickle that never trips a read timeout, error texts that quote the API key."""

from __future__ import annotations

import json
import logging
import time

import pytest

from llmkit.backends import BackendOptions, SamplingParams
from llmkit.backends.openai import OpenAIBackend
from llmkit.errors import BackendUnavailable
from tests.backends.fault_server import FaultServer

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
GREEDY = SamplingParams(temperature=0, max_tokens=4)
CHAT = [[{"role": "user", "content": "hi"}]]
SECRET = "sk-test-echoed-5c1d9e"


def _open(server: FaultServer, **options) -> OpenAIBackend:
    settings = {"backend": "openai", "base_url": server.url, "max_retries": 0, "request_timeout": 5.0} | options
    return OpenAIBackend(BackendOptions(**settings), **FAST)


def _chat_answer(content) -> str:
    return "json:" + json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                              "finish_reason": "stop"}]})  # fmt: skip


# -- item 8: message.content that is not a string ---------------------------------------------


def test_content_as_a_list_of_text_parts_is_joined():
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    with FaultServer([_chat_answer(parts)]) as server, _open(server) as backend:
        (result,) = backend.generate(CHAT, GREEDY)
    assert result.completions[0].text == "Hello, world"


@pytest.mark.parametrize("content", [42, {"text": "a"}, [{"type": "image_url", "image_url": {"url": "x"}}], ["a", 1]])
def test_content_that_is_not_text_is_exit_69_naming_the_server_and_field(content):
    with FaultServer([_chat_answer(content)]) as server, _open(server) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(CHAT, GREEDY)
    message = str(caught.value)
    assert caught.value.exit_code == 69
    assert f"{server.url}/chat/completions" in message and "content" in message


# -- item 10: the timeout bounds the whole request --------------------------------------------


@pytest.mark.parametrize("action", ["trickle", "trickle_body"])
def test_a_trickling_server_is_cut_at_the_request_timeout(action):
    # the answer is a few hundred bytes at 0.25 s each: over a minute if nothing cuts it
    with FaultServer([f"{action}:0.25"]) as server, _open(server, request_timeout=1.0) as backend:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["hi"], GREEDY)
        elapsed = time.monotonic() - started
    assert "timeout" in str(caught.value) and "1 s" in str(caught.value)
    assert elapsed < 10  # the trickle alone would take more than 60 s


def test_a_slow_but_whole_answer_within_the_timeout_passes():
    with FaultServer(["trickle_body:0.001"]) as server, _open(server, request_timeout=5.0) as backend:
        (result,) = backend.generate(["hi"], GREEDY)
    assert result.completions[0].text == "echo:hi#0"


# -- item 13: the key is never quoted back ----------------------------------------------------


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("LLMKIT_TEST_KEY", SECRET)
    return {"api_key_env": "LLMKIT_TEST_KEY"}


@pytest.mark.parametrize("script", [["echo_auth:401"], ["echo_auth:403"], [f"raw:401:bad key Bearer {SECRET}"],
                                    ["echo_auth:418"], [f"json:{json.dumps({'weird': SECRET})}"]])  # fmt: skip
def test_an_error_that_quotes_the_key_is_shown_without_it(key, script):
    with FaultServer(script) as server, _open(server, **key) as backend:
        with pytest.raises(Exception) as caught:
            backend.generate(["hi"], GREEDY)
    assert server.posts[0].headers["Authorization"] == f"Bearer {SECRET}"  # it was sent
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert "[redacted]" in str(caught.value)


def test_retried_errors_log_without_the_key(key, caplog):
    caplog.set_level(logging.DEBUG)
    with FaultServer(["echo_auth:503"] * 3) as server, _open(server, max_retries=2, **key) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["hi"], GREEDY)
    assert "retry 2/2" in caplog.text and "[redacted]" in caplog.text
    assert SECRET not in caplog.text and SECRET not in str(caught.value)


def test_a_reject_detail_never_holds_the_key(key):
    too_long = f"status:400:This model's maximum context length is 8 tokens (key {SECRET})"
    with FaultServer([too_long]) as server, _open(server, **key) as backend:
        (result,) = backend.generate(["hi"], GREEDY)
    assert result.error == "too_long"
    assert SECRET not in (result.detail or "") and "[redacted]" in (result.detail or "")
