"""The openai backend against a local server that fails on purpose: retries, timeouts, exit 69."""

from __future__ import annotations

import logging
import time

import pytest

from llmkit.backends import BackendOptions, SamplingParams, TokenIds
from llmkit.backends.openai import OpenAIBackend
from llmkit.errors import BackendUnavailable, UsageError
from tests.backends.fault_server import FaultServer

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
GREEDY = SamplingParams(temperature=0, max_tokens=4)


def _open(server: FaultServer, **options) -> OpenAIBackend:
    settings = {"backend": "openai", "base_url": server.url, "max_retries": 3, "request_timeout": 5.0} | options
    return OpenAIBackend(BackendOptions(**settings), **FAST)


def test_5xx_retried_until_success():
    with FaultServer(["status:500", "status:503", "ok"]) as server, _open(server) as backend:
        (result,) = backend.generate(["hi"], GREEDY)
        assert result.completions[0].text == "echo:hi#0"
        assert len(server.posts) == 3


def test_429_waits_for_retry_after():
    with FaultServer(["429:0.4", "ok"]) as server, _open(server) as backend:
        backend.generate(["hi"], GREEDY)
        first, second = server.posts
        assert second.at - first.at >= 0.4  # the backoff alone would wait at most 0.05 s


def test_dropped_connection_retried():
    with FaultServer(["drop", "drop", "ok"]) as server, _open(server) as backend:
        (result,) = backend.generate(["hi"], GREEDY)
        assert result.completions[0].text == "echo:hi#0"
        assert len(server.posts) == 3


def test_hung_connection_times_out_then_exit_69():
    with FaultServer(["hang"] * 5) as server, _open(server, request_timeout=0.5, max_retries=1) as backend:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["hi"], GREEDY)
        elapsed = time.monotonic() - started
    assert len(server.posts) == 2  # the first try and one retry
    assert 0.9 <= elapsed < 4.0  # two 0.5 s timeouts, not the server's hang
    assert caught.value.exit_code == 69
    assert server.url in str(caught.value) and "timeout" in str(caught.value)


def test_retries_exhausted_is_exit_69_with_url_and_last_error():
    with FaultServer(["status:502:bad gateway"] * 10) as server, _open(server, max_retries=2) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["a", "b"], GREEDY)
    assert caught.value.exit_code == 69
    message = str(caught.value)
    assert f"{server.url}/completions" in message and "HTTP 502: bad gateway" in message
    assert "3 attempt" in message


def test_server_down_at_open_is_exit_69():
    with FaultServer() as server:
        url = server.url
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=f"{url}/models") as caught:
        OpenAIBackend(BackendOptions(backend="openai", base_url=url, max_retries=2), **FAST)
    assert caught.value.exit_code == 69
    assert time.monotonic() - started < 5


def test_api_key_sent_but_never_shown(monkeypatch, caplog):
    secret = "sk-test-do-not-print-8f3a"
    monkeypatch.setenv("LLMKIT_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with FaultServer(["status:500"] * 10) as server, _open(server, api_key_env="LLMKIT_TEST_KEY", max_retries=1) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["hi"], GREEDY)
    assert all(seen.headers.get("Authorization") == f"Bearer {secret}" for seen in server.seen)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert "retry 1/1" in caplog.text  # the retry was logged ...
    assert secret not in caplog.text  # ... without the key


def test_concurrency_is_bounded():
    with FaultServer(["slow:0.3"] * 9) as server, _open(server, concurrency=3) as backend:
        results = backend.generate([f"p{i}" for i in range(9)], GREEDY)
    assert [r.completions[0].text for r in results] == [f"echo:p{i}#0" for i in range(9)]
    assert server.max_in_flight == 3


def test_n_samples_in_one_request_in_index_order():
    with FaultServer() as server, _open(server) as backend:
        (result,) = backend.generate(["x"], SamplingParams(temperature=0.8, top_k=5, n=4, seed=7, stop=("\n",)))
    (post,) = server.posts
    assert post.path == "/v1/completions"
    assert {k: post.body[k] for k in ("model", "n", "seed", "top_k", "stop", "prompt")} == {
        "model": "fault-model", "n": 4, "seed": 7, "top_k": 5, "stop": ["\n"], "prompt": "x",
    }  # fmt: skip
    assert "return_token_ids" not in post.body  # a vLLM extension, only sent to vLLM servers
    assert [c.text for c in result.completions] == [f"echo:x#{i}" for i in range(4)]
    assert [c.finish_reason for c in result.completions] == ["length"] * 4


def test_chat_and_token_prompts_use_their_endpoints():
    chat = [{"role": "user", "content": "hello"}]
    with FaultServer() as server, _open(server, model="chosen") as backend:
        results = backend.generate([chat, TokenIds([5, 6, 7])], GREEDY)
    paths = sorted((p.path, p.body.get("model")) for p in server.posts)
    assert paths == [("/v1/chat/completions", "chosen"), ("/v1/completions", "chosen")]
    assert results[0].completions[0].text == "echo:hello#0"
    assert results[1].completions[0].text == "echo:[5, 6, 7]#0"


def test_context_length_answer_is_a_per_record_reject():
    script = ["ok", "status:400:This model's maximum context length is 1024 tokens. However, you requested 2000"]
    with FaultServer(script) as server, _open(server, concurrency=1) as backend:
        results = backend.generate(["short", "long"], GREEDY)
    assert results[0].error is None
    assert results[1].error == "too_long" and "maximum context length" in (results[1].detail or "")
    assert len(server.posts) == 2  # not retried


def test_other_client_errors_are_not_retried():
    with FaultServer(["status:400:unknown parameter"]) as server, _open(server) as backend:
        with pytest.raises(UsageError, match="unknown parameter"):
            backend.generate(["hi"], GREEDY)
    with FaultServer(["status:401:invalid key"]) as server, _open(server) as backend:
        with pytest.raises(BackendUnavailable, match="API key"):
            backend.generate(["hi"], GREEDY)
        assert len(server.posts) == 1


def test_bad_sampling_value_refused_before_any_request():
    with FaultServer() as server, _open(server) as backend:
        with pytest.raises(UsageError, match="--top-p"):
            backend.generate(["hi"], SamplingParams(top_p=0))
    assert server.posts == []


def test_missing_base_url_is_usage_error():
    with pytest.raises(UsageError, match="--base-url"):
        OpenAIBackend(BackendOptions(backend="openai"))


def test_scoring_needs_a_vllm_server():
    with FaultServer() as server, _open(server) as backend:
        assert not backend.can_score
        with pytest.raises(UsageError, match="prompt log-probs"):
            backend.score(["text"])


def test_close_cuts_hung_requests_and_backoff_short():
    """An interrupted run closes the backend: requests in flight and waits between retries end at once."""
    import threading

    outcome: list[BaseException] = []
    with FaultServer(["hang"] * 5) as server:
        backend = OpenAIBackend(
            BackendOptions(backend="openai", base_url=server.url, request_timeout=60, max_retries=5), backoff_base=30
        )
        worker = threading.Thread(target=lambda: outcome.extend(_raises(backend.generate, ["hi"], GREEDY)))
        worker.start()
        time.sleep(0.5)
        started = time.monotonic()
        backend.close()
        worker.join(timeout=10)
        assert not worker.is_alive() and time.monotonic() - started < 3
    assert isinstance(outcome[0], BackendUnavailable)


def _raises(call, *args) -> list[BaseException]:
    try:
        call(*args)
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        return [exc]
    return []


def test_interrupt_exits_promptly_while_a_request_hangs():
    """Ctrl-C during a hung request ends the process now, not after --request-timeout."""
    import signal
    import subprocess
    import sys

    with FaultServer(["hang"] * 5) as server:
        script = (
            "from llmkit.backends import BackendOptions, SamplingParams\n"
            "from llmkit.backends.openai import OpenAIBackend\n"
            f"backend = OpenAIBackend(BackendOptions(base_url={server.url!r}, request_timeout=120))\n"
            "backend.generate(['hi'], SamplingParams())\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not server.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.posts, "the child never sent its request"
        child.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            child.wait(timeout=10)
        finally:
            child.kill()
        assert time.monotonic() - started < 5
        assert b"KeyboardInterrupt" in child.stderr.read()


@pytest.mark.parametrize(
    "body, missing",
    [('{"weird": 1}', "'choices'"), ("[1, 2]", "'choices'"), ('{"choices": [{"index": 0}, {"index": 1}]}', "'text'"),
     ('{"choices": [{"index": 0, "text": "a"}]}', "2 choices")],  # fmt: skip
)
def test_unexpected_answer_is_exit_69_naming_url_and_what_is_missing(body, missing):
    """A server that answers 200 with something else than a completion: exit 69, not a KeyError."""
    with FaultServer([f"json:{body}"]) as server, _open(server) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.generate(["hi"], SamplingParams(n=2, seed=1))
    assert caught.value.exit_code == 69
    assert f"{server.url}/completions" in str(caught.value) and missing in str(caught.value)


def test_unexpected_chat_answer_is_exit_69():
    body = '{"choices": [{"index": 0, "text": "not a chat answer"}]}'
    with FaultServer([f"json:{body}"]) as server, _open(server) as backend:
        with pytest.raises(BackendUnavailable, match=r"chat/completions.*'message'"):
            backend.generate([[{"role": "user", "content": "hi"}]], GREEDY)


@pytest.mark.parametrize("body", ['{"weird": 1}', '{"choices": [{"index": 0, "prompt_token_ids": [1, 2], '
                                  '"prompt_logprobs": [null, {"7": {"logprob": -1.0}}]}]}'])  # fmt: skip
def test_unexpected_score_answer_is_exit_69(body):
    vllm_card = {"id": "fault-model", "object": "model", "owned_by": "vllm"}
    with FaultServer([f"json:{body}"], model_card=vllm_card) as server, _open(server) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            backend.score(["text"])
    assert caught.value.exit_code == 69 and f"{server.url}/completions" in str(caught.value)


def test_unexpected_model_listing():
    """/models that lists nothing usable: --model is taken on trust, else exit 69 saying to give it."""
    with FaultServer(models_body=[1, 2]) as server:
        with _open(server, model="given") as backend:
            assert backend.model == "given"
        with pytest.raises(BackendUnavailable, match=f"{server.url}/models.*--model"):
            _open(server)


@pytest.mark.parametrize(
    "url, why",
    [("http://127.0.0.1:99999/v1", "port"), ("http://127.0.0.1:0/v1", "port"), ("http://127.0.0.1:abc/v1", "port"),
     ("http://[::1/v1", "not a URL"), ("http:///v1", "no host"), ("ftp://127.0.0.1/v1", "http:// or https://")],  # fmt: skip
)
def test_malformed_base_url_is_a_usage_error(url, why):
    with pytest.raises(UsageError, match=why):
        OpenAIBackend(BackendOptions(backend="openai", base_url=url))


def test_malformed_base_url_is_exit_2_without_its_password():
    from llmkit.testing import run_command

    run = run_command(["mia", "score", "-i", "/nonexistent.jsonl", "--backend", "openai",
                       "--base-url", "http://user:s3cret@127.0.0.1:99999/v1"])  # fmt: skip
    err = run.stderr
    assert run.status == 2 and "99999" in err and "s3cret" not in err and "Traceback" not in err


def test_default_concurrency_lets_a_server_batch():
    """vLLM batches the requests in flight: the default keeps far more than a handful there."""
    assert BackendOptions().concurrency == 64
    with FaultServer(["slow:1.0"] * 80) as server:
        backend = OpenAIBackend(BackendOptions(backend="openai", base_url=server.url), **FAST)
        with backend:
            results = backend.generate([f"p{i}" for i in range(80)], GREEDY)
    assert [r.completions[0].text for r in results] == [f"echo:p{i}#0" for i in range(80)]
    assert 32 < server.max_in_flight <= 64


def test_a_submitted_batch_is_sent_before_it_is_collected():
    """submit() queues the batch's requests at once (the server works on batch N+1 while the
    caller writes batch N); collect() gives each batch its own results, in order."""
    with FaultServer(["slow:0.2"] * 6) as server, _open(server, concurrency=2) as backend:
        first = backend.submit(["a", "b", "c"], GREEDY)
        second = backend.submit(["d", "e", "f"], GREEDY)
        deadline = time.monotonic() + 10
        while len(server.posts) < 6 and time.monotonic() < deadline:  # nobody has collected yet
            time.sleep(0.02)
        assert sorted(post.body["prompt"] for post in server.posts) == ["a", "b", "c", "d", "e", "f"]
        assert [r.completions[0].text for r in backend.collect(first)] == ["echo:a#0", "echo:b#0", "echo:c#0"]
        assert [r.completions[0].text for r in backend.collect(second)] == ["echo:d#0", "echo:e#0", "echo:f#0"]
        assert server.max_in_flight == 2
