"""Fixtures of the contrastive-gen tests: the tiny expert/amateur pair and naive references."""

from __future__ import annotations

import pytest

from .reference import INSTRUCTIONS, MAX_TOKENS, naive_greedy


@pytest.fixture(scope="session")
def reference(pair):
    """Naive greedy outputs, computed once per setting (the slow part of these tests)."""
    expert, amateur, tokenizer, prompts = pair
    cache = {}

    def get(formula, beta=1.0, alpha=0.01, eos_id=None, amateur_temperature=1.0):
        key = (formula, beta, alpha, eos_id, amateur_temperature)
        if key not in cache:
            eos = tokenizer.eos_token_id if eos_id is None else eos_id
            cache[key] = [naive_greedy(expert, amateur, p, formula=formula, beta=beta, alpha=alpha,
                                       vocab_size=len(tokenizer), eos_id=eos, max_tokens=MAX_TOKENS,
                                       amateur_temperature=amateur_temperature) for p in prompts]
        return cache[key]

    return get


@pytest.fixture(scope="session")
def pair(tiny_llama, tiny_llama_twin):
    from transformers import AutoTokenizer

    from llmkit_contrastive.chat import prompt_ids
    from llmkit import BackendOptions
    from llmkit.backends import load_causal_lm

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": t}]) for t in INSTRUCTIONS]
    assert len({len(p) for p in prompts}) == len(prompts)  # different lengths: left padding matters
    options = BackendOptions()
    return load_causal_lm(str(tiny_llama), options), load_causal_lm(str(tiny_llama_twin), options), tokenizer, prompts
