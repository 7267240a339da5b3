"""hf and vllm on the same tiny model in float32: the same log-probs, the same greedy text."""

from __future__ import annotations

import numpy as np
import pytest

from llmkit.backends import SamplingParams, TokenIds
from tests.backends.helpers import PROMPTS, TEXTS

pytestmark = pytest.mark.vllm


def test_teacher_forced_logprobs_agree(hf_backend, vllm_backend):
    hf_scores = hf_backend.score(TEXTS)
    vllm_scores = vllm_backend.score(TEXTS)
    for text, ours, theirs in zip(TEXTS, hf_scores, vllm_scores):
        assert ours.token_ids == theirs.token_ids, text
        assert len(theirs.logprobs) == len(theirs.token_ids)
        if ours.logprobs:
            assert np.max(np.abs(np.subtract(ours.logprobs, theirs.logprobs))) < 1e-3, text


def test_greedy_generations_agree(hf_backend, vllm_backend):
    prompts = PROMPTS + [TokenIds(hf_backend.tokenizer.encode("token ids given directly"))]
    params = SamplingParams(temperature=0, max_tokens=24, n=1)
    for ours, theirs in zip(hf_backend.generate(prompts, params), vllm_backend.generate(prompts, params)):
        assert ours.prompt_token_ids == theirs.prompt_token_ids
        (a,), (b,) = ours.completions, theirs.completions
        assert (a.token_ids, a.text, a.finish_reason) == (b.token_ids, b.text, b.finish_reason)
