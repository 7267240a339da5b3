"""The hf backend against independent computations on the same transformers model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmkit.backends import BackendOptions, SamplingParams, TokenIds, open_backend
from llmkit.backends.hf import HFBackend
from llmkit.errors import BackendUnavailable, UsageError
from tests.backends.helpers import PROMPTS, TEXTS, check_context_budget, check_stop_string, model_with_own_code


def _reference_greedy(model, ids: list[int], steps: int, eos: int) -> list[int]:
    """Greedy decoding by hand: one unpadded forward of the whole sequence per new token."""
    ids = list(ids)
    new: list[int] = []
    for _ in range(steps):
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, -1]
        token = int(logits.argmax())
        new.append(token)
        ids.append(token)
        if token == eos:
            break
    return new


def _reference_logprobs(model, ids: list[int]) -> np.ndarray:
    """log-softmax over the vocabulary at every position of one unpadded sequence, in float64."""
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0].double()
    return torch.log_softmax(logits, dim=-1).numpy()


@pytest.mark.slow  # generates with the hf backend step by step against a reference
def test_greedy_batch_matches_unpadded_reference(hf_backend):
    """Left padding must not change a prompt's greedy continuation."""
    results = hf_backend.generate(PROMPTS, SamplingParams(temperature=0, max_tokens=12, n=2))
    eos = hf_backend.tokenizer.eos_token_id
    for result in results:
        expected = _reference_greedy(hf_backend.model, result.prompt_token_ids, 12, eos)
        assert [c.token_ids for c in result.completions] == [expected, expected]


@pytest.mark.slow  # scores against an unpadded reference
def test_score_matches_unpadded_reference(hf_backend):
    scores = hf_backend.score(TEXTS)
    for text, score in zip(TEXTS, scores):
        ids = hf_backend.tokenizer.encode(text)  # BOS first
        assert ids[0] == hf_backend.tokenizer.bos_token_id
        assert score.token_ids == ids[1:]
        if len(ids) < 2:
            assert score.logprobs == []
            continue
        table = _reference_logprobs(hf_backend.model, ids)
        expected = [table[t, token] for t, token in enumerate(ids[1:])]
        np.testing.assert_allclose(score.logprobs, expected, atol=1e-5)


def test_score_distribution_moments(hf_backend):
    text = TEXTS[3]
    (scored,) = hf_backend.score_distribution([text])
    ids = hf_backend.tokenizer.encode(text)
    table = _reference_logprobs(hf_backend.model, ids)[:-1]
    probs = np.exp(table)
    mean = (probs * table).sum(-1)
    std = np.sqrt((probs * (table - mean[:, None]) ** 2).sum(-1))
    np.testing.assert_allclose(scored.mean_logprobs, mean, atol=1e-5)
    np.testing.assert_allclose(scored.std_logprobs, std, atol=1e-5)
    assert scored.logprobs == pytest.approx(hf_backend.score([text])[0].logprobs, abs=1e-6)


def test_next_token_logprobs_agree_with_scores(hf_backend):
    text = "The cat sat on the mat."
    ids = hf_backend.tokenizer.encode(text)
    scored = hf_backend.score([text])[0].logprobs
    prefixes = [TokenIds(ids[:k]) for k in (2, 4, len(ids) - 1)]
    rows = hf_backend.next_token_logprobs(prefixes + [TokenIds([])])
    assert rows[-1] is None
    for k, row in zip((2, 4, len(ids) - 1), rows):
        assert row.shape == (len(hf_backend.tokenizer),)
        assert float(np.exp(row).sum()) == pytest.approx(1.0, abs=1e-4)
        assert float(row[ids[k]]) == pytest.approx(scored[k - 1], abs=1e-5)


@pytest.mark.slow  # samples a batch several times
def test_seeded_sampling_is_reproducible(hf_backend):
    params = SamplingParams(temperature=1.0, max_tokens=10, n=4, seed=123)
    first = hf_backend.generate(PROMPTS[:3], params)
    again = hf_backend.generate(PROMPTS[:3], params)
    other = hf_backend.generate(PROMPTS[:3], SamplingParams(temperature=1.0, max_tokens=10, n=4, seed=124))
    ids = lambda results: [[c.token_ids for c in r.completions] for r in results]  # noqa: E731
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)
    assert all(len(r.completions) == 4 for r in first)
    assert len({tuple(c.token_ids) for c in first[0].completions}) > 1  # n samples, not n copies


@pytest.mark.slow  # generates twice with the hf backend
def test_top_k_one_is_greedy(hf_backend):
    greedy = hf_backend.generate(PROMPTS[:2], SamplingParams(temperature=0, max_tokens=8))
    top1 = hf_backend.generate(PROMPTS[:2], SamplingParams(temperature=1.5, top_k=1, max_tokens=8, seed=3))
    assert [r.completions[0].token_ids for r in greedy] == [r.completions[0].token_ids for r in top1]


@pytest.mark.parametrize(
    "bad, option",
    [({"n": 0}, "n must"), ({"max_tokens": 0}, "--max-tokens"), ({"temperature": -1}, "--temperature"),
     ({"top_p": 1.5}, "--top-p"), ({"top_k": -2}, "--top-k")],  # fmt: skip
)
def test_bad_sampling_values_are_usage_errors(hf_backend, bad, option):
    with pytest.raises(UsageError, match=option):
        hf_backend.generate(["x"], SamplingParams(**bad))


def test_stop_string(hf_backend):
    check_stop_string(hf_backend)


@pytest.mark.slow  # opens a second hf backend and generates
def test_context_budget_and_too_long(tiny_llama):
    with HFBackend(BackendOptions(model=str(tiny_llama), dtype="float32", device="cpu", max_model_len=40)) as backend:
        assert backend.max_model_len == 40
        check_context_budget(backend)
        (too_long,) = backend.score(["word " * 60])
        assert too_long.error == "too_long" and too_long.logprobs == []


def test_chat_prompt_rendered_with_template_and_one_bos(hf_backend):
    messages = PROMPTS[3]
    (result,) = hf_backend.generate([messages], SamplingParams(temperature=0, max_tokens=2))
    tokenizer = hf_backend.tokenizer
    rendered = "<s><|system|>\nBe brief.\n<|user|>\nName a colour.\n<|assistant|>\n"
    assert result.prompt_token_ids == tokenizer.encode(rendered, add_special_tokens=False)
    assert result.prompt_token_ids.count(tokenizer.bos_token_id) == 1


def test_missing_model_path_is_backend_unavailable(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(BackendUnavailable, match="no-such-model") as caught:
        open_backend(BackendOptions(model=str(missing), backend="hf"))
    assert caught.value.exit_code == 69


def test_unknown_backend_and_dtype_are_usage_errors(tiny_llama):
    with pytest.raises(UsageError, match="unknown backend 'nope'"):
        open_backend(BackendOptions(model=str(tiny_llama), backend="nope"))
    with pytest.raises(UsageError, match="--dtype"):
        HFBackend(BackendOptions(model=str(tiny_llama), dtype="float8"))


def test_bad_dtype_is_exit_2_on_every_backend_before_any_work(capfd):
    from llmkit.cli import main

    for backend in ("hf", "vllm", "openai"):  # openai never reads --dtype: still refused, not ignored
        with pytest.raises(SystemExit) as info:
            main(["mia", "score", "-i", "/nonexistent.jsonl", "--backend", backend, "--base-url", "http://127.0.0.1:9/v1",
                  "--model", "m", "--dtype", "float8"])  # fmt: skip
        assert info.value.code == 2, backend
        assert "unknown --dtype 'float8'" in capfd.readouterr().err


def test_remote_code_runs_only_with_flag(tiny_llama, tmp_path):
    model, marker = model_with_own_code(tiny_llama, tmp_path)
    with pytest.raises(UsageError, match="--trust-remote-code"):
        HFBackend(BackendOptions(model=str(model), dtype="float32"))
    assert not marker.exists()
    with HFBackend(BackendOptions(model=str(model), dtype="float32", trust_remote_code=True)) as backend:
        assert type(backend.model).__name__ == "CustomModel"
    assert marker.exists()


def test_a_too_long_prompt_leaves_no_transformers_warning(tiny_llama, caplog):
    """llmkit rejects it as too_long itself; transformers' "indexing errors" warning would only mislead."""
    import logging

    caplog.set_level(logging.WARNING)
    backend = HFBackend(BackendOptions(model=str(tiny_llama), dtype="float32", device="cpu"))  # a fresh tokenizer
    (result,) = backend.generate(["word " * 3000], SamplingParams(max_tokens=2))
    backend.close()
    assert result.error == "too_long"
    assert not [r for r in caplog.records if "Token indices" in r.getMessage()]


@pytest.fixture(scope="module")
def short_context_llama(tiny_llama, tmp_path_factory):
    """The tiny Llama with a 48-token context: --max-tokens above it is capped per prompt length."""
    import json
    import shutil

    model = tmp_path_factory.mktemp("short_context") / "tiny_llama_48"
    shutil.copytree(tiny_llama, model)
    config = json.loads((model / "config.json").read_text())
    config["max_position_embeddings"] = 48
    (model / "config.json").write_text(json.dumps(config))
    return model


def _generate_calls(backend, monkeypatch) -> list[dict]:
    """Record every ``model.generate`` call of ``backend`` (batch size and max_new_tokens)."""
    calls: list[dict] = []
    real = backend.model.generate

    def counting(input_ids, **kwargs):
        calls.append({"rows": input_ids.shape[0], "max_new_tokens": kwargs["generation_config"].max_new_tokens})
        return real(input_ids, **kwargs)

    monkeypatch.setattr(backend.model, "generate", counting)
    return calls


@pytest.mark.slow  # generates at several context-capped budgets
def test_context_capped_budgets_share_one_generate_call(short_context_llama, monkeypatch, caplog):
    """A large --max-tokens (the subcommands' defaults run to 8192) with a short context gives each
    prompt length its own budget; the batch is still one generate call, and each prompt gets what
    it gets alone (greedy), ended at its own budget with finish reason "length"."""
    import logging

    caplog.set_level(logging.WARNING)
    with HFBackend(BackendOptions(model=str(short_context_llama), dtype="float32", device="cpu")) as backend:
        assert backend.max_model_len == 48
        filler = backend.tokenizer.encode("the cat sat", add_special_tokens=False)[0]
        prompts = [*PROMPTS[:3], TokenIds([filler] * 30), TokenIds([filler] * 46), TokenIds([filler] * 5), PROMPTS[4]]
        params = SamplingParams(temperature=0, max_tokens=8192)
        alone = [backend.generate([prompt], params)[0] for prompt in prompts]
        calls = _generate_calls(backend, monkeypatch)
        positions: list[int] = []  # what the decoder layers see, after the backend's own hooks
        record = lambda module, args, kwargs: positions.append(int(kwargs["position_ids"].max()))  # noqa: E731
        handle = backend.model.model.register_forward_pre_hook(record, with_kwargs=True)
        together = backend.generate(prompts, params)
        handle.remove()
    assert len(calls) == 1 and calls[0]["rows"] == len(prompts)
    budgets = [48 - len(result.prompt_token_ids) for result in alone]
    assert len(set(budgets)) >= 5 and calls[0]["max_new_tokens"] == max(budgets)
    for one, batched, budget in zip(alone, together, budgets):
        assert batched.prompt_token_ids == one.prompt_token_ids
        ((a,), (b,)) = one.completions, batched.completions
        assert (b.token_ids, b.text, b.finish_reason) == (a.token_ids, a.text, a.finish_reason)
        assert len(b.token_ids) <= budget
        if b.finish_reason == "length":
            assert len(b.token_ids) == budget
    assert sum(r.completions[0].finish_reason == "length" for r in together) >= 5
    # rows that ended early are fed padding until the last one ends: their positions stay in the
    # context too, and transformers' notice about the padded width, which only misleads, is dropped
    assert positions and max(positions) == 47
    assert not [r for r in caplog.records if "maximum length" in r.getMessage()]


@pytest.mark.slow  # samples many rows at several budgets
def test_sampled_rows_end_at_their_own_budgets(short_context_llama, monkeypatch):
    """n samples of prompts of several lengths: one generate call, each sample cut at its prompt's
    budget, and the same seed gives the same samples."""
    with HFBackend(BackendOptions(model=str(short_context_llama), dtype="float32", device="cpu")) as backend:
        filler = backend.tokenizer.encode("the cat sat", add_special_tokens=False)[0]
        prompts = [TokenIds([filler] * k) for k in (4, 20, 40, 45)]
        params = SamplingParams(temperature=1.0, max_tokens=100, n=3, seed=5)
        calls = _generate_calls(backend, monkeypatch)
        first = backend.generate(prompts, params)
        again = backend.generate(prompts, params)
    assert [c["rows"] for c in calls] == [4, 4]  # each expanded to 3 rows inside generate
    for k, result in zip((4, 20, 40, 45), first):
        assert len(result.completions) == 3
        for completion in result.completions:
            assert len(completion.token_ids) <= 48 - k
            assert completion.finish_reason == ("length" if len(completion.token_ids) == 48 - k else "stop")
    ids = lambda results: [[c.token_ids for c in r.completions] for r in results]  # noqa: E731
    assert ids(first) == ids(again)


@pytest.mark.slow  # builds a model and generates at mixed budgets
def test_learned_position_table_survives_mixed_budgets(tiny_llama, tmp_path):
    """GPT-2 looks positions up in a table of the context's size: rows that ended early are fed
    padding past it while the longest-budget row runs on, which must not index past the table."""
    import shutil

    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=512, n_positions=48, n_embd=32, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=2)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama / name, tmp_path / name)
    with HFBackend(BackendOptions(model=str(tmp_path), dtype="float32", device="cpu")) as backend:
        params = SamplingParams(temperature=0, max_tokens=1000)
        results = backend.generate([TokenIds([5] * k) for k in (3, 30, 45)], params)
        alone = [backend.generate([TokenIds([5] * k)], params)[0] for k in (3, 30, 45)]
    assert [r.completions[0].token_ids for r in results] == [r.completions[0].token_ids for r in alone]
    assert all(len(r.completions[0].token_ids) <= 48 - k for r, k in zip(results, (3, 30, 45)))


@pytest.mark.parametrize("loader", ["backend", "load_causal_lm", "load_tokenizer"])
def test_a_model_with_own_code_is_refused_even_when_a_stock_class_would_load(tiny_llama, tmp_path, loader):
    """config.json names its own code (auto_map) but also a model_type transformers knows: without
    --trust-remote-code, transformers would load the stock class, which may not be the model its
    authors wrote. llmkit refuses instead, exit 2 naming the option (the README's rule)."""
    from llmkit.backends import load_causal_lm, load_tokenizer

    model, marker = model_with_own_code(tiny_llama, tmp_path, model_type="llama")
    options = BackendOptions(model=str(model), dtype="float32", device="cpu")
    load = {"backend": lambda: HFBackend(options), "load_causal_lm": lambda: load_causal_lm(str(model), options),
            "load_tokenizer": lambda: load_tokenizer(str(model))}[loader]  # fmt: skip
    with pytest.raises(UsageError) as caught:
        load()
    assert caught.value.exit_code == 2
    assert "--trust-remote-code" in str(caught.value) and "auto_map" in str(caught.value)
    assert not marker.exists()


def test_a_tokenizer_with_own_code_is_refused_too(tiny_llama, tmp_path):
    import json
    import shutil

    model = tmp_path / "custom-tokenizer"
    shutil.copytree(tiny_llama, model)
    settings = json.loads((model / "tokenizer_config.json").read_text())
    settings["auto_map"] = {"AutoTokenizer": ["tokenization_custom.CustomTokenizer", None]}
    (model / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(UsageError, match="tokenizer_config.json"):
        HFBackend(BackendOptions(model=str(model), dtype="float32", device="cpu"))
