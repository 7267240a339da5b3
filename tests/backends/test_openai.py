"""The openai backend against a real OpenAI-compatible server: vLLM's, on a tiny model, on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from llmkit.backends import BackendOptions, SamplingParams, TokenIds, open_backend
from llmkit.backends.hf import HFBackend
from tests.backends.helpers import PROMPTS, TEXTS

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def served(vllm_server):
    """(openai backend on the server, hf backend on the very model the server serves)."""
    remote = open_backend(BackendOptions(backend="openai", base_url=vllm_server.url, concurrency=4))
    local = HFBackend(BackendOptions(model=str(vllm_server.model_path), dtype="float32", device="cpu"))
    yield remote, local
    remote.close()
    local.close()


def test_model_and_context_come_from_the_server(served, vllm_server):
    remote, _ = served
    assert remote.model == str(vllm_server.model_path)  # the first (only) model of GET /models
    assert remote.is_vllm and remote.max_model_len == 1024


def test_greedy_matches_hf(served):
    """Strings via /completions, chat via /chat/completions (server-side template): same tokens and text."""
    remote, local = served
    prompts = PROMPTS + [TokenIds(local.tokenizer.encode("token ids given directly"))]
    params = SamplingParams(temperature=0, max_tokens=16)
    for ours, theirs in zip(local.generate(prompts, params), remote.generate(prompts, params)):
        assert theirs.prompt_token_ids == ours.prompt_token_ids
        (a,), (b,) = ours.completions, theirs.completions
        assert (b.token_ids, b.text, b.finish_reason) == (a.token_ids, a.text, a.finish_reason)


def test_scores_match_hf(served):
    remote, local = served
    for ours, theirs in zip(local.score(TEXTS), remote.score(TEXTS)):
        assert theirs.token_ids == ours.token_ids
        if ours.logprobs:
            assert np.max(np.abs(np.subtract(ours.logprobs, theirs.logprobs))) < 1e-3


def test_seeded_n_samples_reproducible(served):
    remote, _ = served
    params = SamplingParams(temperature=1.0, max_tokens=8, n=3, seed=42)
    first, again = (remote.generate(["Once upon a time"], params)[0] for _ in range(2))
    assert len(first.completions) == 3
    assert [c.token_ids for c in first.completions] == [c.token_ids for c in again.completions]
    assert len({tuple(c.token_ids) for c in first.completions}) > 1


def test_too_long_is_a_per_record_reject(served):
    remote, _ = served
    results = remote.generate(["short", "word " * 1100], SamplingParams(temperature=0, max_tokens=4))
    assert results[0].error is None and len(results[0].completions) == 1
    assert results[1].error == "too_long" and "context length" in (results[1].detail or "")
    (scored,) = remote.score(["word " * 1100])
    assert scored.error == "too_long"
