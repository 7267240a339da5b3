"""generate on the openai backend: a server that returns text without token ids must never be
scored (its generations would count as empty)."""

from __future__ import annotations

import orjson
import pytest

from llmkit import BackendOptions, Reject, UsageError
from llmkit.backends.openai import OpenAIBackend
from llmkit.testing import run_command
from llmkit_utf8.generate import GenerateStep
from tests.backends.fault_server import FaultServer
from tests.utf8.test_commands import IDENTITY

VLLM_CARD = {"id": "fault-model", "object": "model", "owned_by": "vllm"}


def _backend(server: FaultServer) -> OpenAIBackend:
    return OpenAIBackend(BackendOptions(backend="openai", base_url=server.url, max_retries=0))


def test_server_without_token_ids_is_a_usage_error_before_any_request():
    with FaultServer() as server, _backend(server) as backend:
        step = GenerateStep(BackendOptions(), backend=backend, bytemap=IDENTITY)
        with pytest.raises(UsageError, match="without token ids"):
            step.open()
        assert server.posts == []


def test_server_without_token_ids_exits_2_on_the_command_line(tmp_path):
    source = tmp_path / "chars.jsonl"
    source.write_bytes(orjson.dumps({"char": "あ"}) + b"\n")
    with FaultServer() as server:
        run = run_command(["utf8-eval", "generate", "--backend", "openai", "--base-url", server.url, "-i", str(source)])
        assert server.posts == []
    assert run.status == 2 and "without token ids" in run.stderr and run.stdout == b""


def test_completion_with_text_but_no_token_ids_is_rejected():
    # a server that says it is vLLM but answers without token ids: each record is rejected, not scored
    with FaultServer(model_card=VLLM_CARD) as server, _backend(server) as backend:
        step = GenerateStep(BackendOptions(), backend=backend, bytemap=IDENTITY)
        step.open()
        [outcome] = step.process([{"char": "あ"}])
        assert server.posts and server.posts[0].body["return_token_ids"] is True
    assert isinstance(outcome, Reject) and outcome.reason == "no_token_ids"
