"""hf lockstep decoding against a naive reference, and the CLI's checks and outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmkit import SamplingParams
from llmkit.testing import run_command

from .reference import INSTRUCTIONS, MAX_TOKENS


def _decoder(pair, contrast, eos_ids=None, max_model_len=1024):
    from llmkit_contrastive.hf_decode import LockstepDecoder

    expert, amateur, tokenizer, _ = pair
    return LockstepDecoder(
        expert, amateur, tokenizer, contrast, vocab_size=len(tokenizer), max_model_len=max_model_len,
        eos_ids=eos_ids if eos_ids is not None else {tokenizer.eos_token_id},
    )


@pytest.mark.slow  # compares with a naive token-by-token decode of two models
@pytest.mark.parametrize(("formula", "beta", "alpha"), [("difference", 1.0, 0.01), ("obrien", 1.0, 0.01), ("difference", 0.5, 0.1)])
def test_lockstep_greedy_equals_the_naive_reference(pair, reference, formula, beta, alpha):
    from llmkit_contrastive.formulas import Contrast

    expert, amateur, tokenizer, prompts = pair
    got = _decoder(pair, Contrast(beta, alpha, formula)).generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    for want, completions in zip(reference(formula, beta, alpha), got, strict=True):
        assert completions[0].token_ids == want
        assert completions[0].text == tokenizer.decode(want, skip_special_tokens=True)
    # the contrast changes the output: the test would notice a decoder that ignored the amateur
    plain = _decoder(pair, Contrast(0.0, 0.0, formula)).generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    assert [c[0].token_ids for c in plain] != [c[0].token_ids for c in got]


@pytest.mark.slow  # decodes with the pair and compares with the expert's own greedy decode
def test_beta_zero_is_the_experts_own_greedy_generation(pair):
    import torch

    from llmkit_contrastive.formulas import Contrast

    expert, _, tokenizer, prompts = pair
    got = _decoder(pair, Contrast(0.0, 0.0)).generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    for prompt, completions in zip(prompts, got, strict=True):
        out = expert.generate(torch.tensor([prompt]), max_new_tokens=MAX_TOKENS, do_sample=False)
        assert completions[0].token_ids == out[0, len(prompt):].tolist()


@pytest.mark.slow  # compares with a naive token-by-token decode of two models
def test_each_sequence_stops_on_its_own_at_eos_stop_strings_and_length(pair, reference):
    from llmkit_contrastive.formulas import Contrast

    expert, amateur, tokenizer, prompts = pair
    reference = reference("difference", eos_id=-1)
    # plant an EOS: call the 6th token of the first sequence "EOS"; every row must cut at its first occurrence
    eos = reference[0][5]
    got = _decoder(pair, Contrast(), eos_ids={eos}).generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    for ref, completions in zip(reference, got, strict=True):
        want = ref[: ref.index(eos) + 1] if eos in ref else ref
        assert completions[0].token_ids == want
        assert completions[0].finish_reason == ("stop" if eos in ref else "length")
    # a stop string taken from the middle of the second row's text
    text = tokenizer.decode(reference[1], skip_special_tokens=True)
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    got = _decoder(pair, Contrast(), eos_ids=set()).generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS, stop=(stop,)))
    assert got[1][0].text == text[: text.index(stop)]
    assert got[1][0].finish_reason == "stop"
    # the context limit ends a row with "length"
    limit = len(prompts[0]) + 3
    got = _decoder(pair, Contrast(), eos_ids=set(), max_model_len=limit).generate(prompts[:1], SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    assert got[0][0].token_ids == reference[0][:3] and got[0][0].finish_reason == "length"


@pytest.mark.slow  # samples several times from two models
def test_sampling_is_reproducible_with_a_seed_and_n_gives_several(pair):
    from llmkit_contrastive.formulas import Contrast

    _, _, _, prompts = pair
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=12, seed=3, n=3)
    first = _decoder(pair, Contrast()).generate(prompts, params)
    again = _decoder(pair, Contrast()).generate(prompts, params)
    assert [[c.token_ids for c in r] for r in first] == [[c.token_ids for c in r] for r in again]
    assert all(len(r) == 3 for r in first)
    assert len({tuple(c.token_ids) for c in first[2]}) > 1


# --- the command line -------------------------------------------------------------------------


def _run(args):
    run = run_command(["contrastive-gen", *args])
    return run.status, run.stdout.decode(), run.stderr


def _swapped_vocab_copy(src: Path, dst: Path) -> str:
    """A copy of a model whose tokenizer swaps the ids of two ordinary tokens; returns the first."""
    shutil.copytree(src, dst)
    data = json.loads((dst / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    by_id = {i: t for t, i in vocab.items()}
    first, second = by_id[40], by_id[41]
    vocab[first], vocab[second] = 41, 40
    (dst / "tokenizer.json").write_text(json.dumps(data))
    return first


def test_a_vocabulary_mismatch_stops_before_any_work_with_exit_2(tiny_llama, tiny_llama_twin, tmp_path):
    first = _swapped_vocab_copy(tiny_llama_twin, tmp_path / "swapped")
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"instruction": "hi"}\n')
    code, out, err = _run(["--expert", str(tiny_llama), "--amateur", str(tmp_path / "swapped"), "--backend", "hf",
                           "-i", str(inputs)])
    assert code == 2 and out == ""
    assert repr(first) in err and "id 40" in err and "id 41" in err


@pytest.mark.slow  # compares with a naive token-by-token decode of two models
def test_cli_writes_responses_and_rejects_prompts_over_the_context(pair, reference, tiny_llama, tiny_llama_twin, tmp_path):
    expert, amateur, tokenizer, prompts = pair
    long_text = " ".join(["the river runs north"] * 40)
    rows = [{"id": i, "instruction": t, "keep": i} for i, t in enumerate(INSTRUCTIONS[:2])]
    rows.append({"id": 9, "instruction": long_text})
    rows.append({"id": 10, "messages": [{"role": "user", "content": INSTRUCTIONS[2]}]})
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = _run(["--expert", str(tiny_llama), "--amateur", str(tiny_llama_twin), "--backend", "hf",
                           "--formula", "obrien", "--temperature", "0", "--max-tokens", str(MAX_TOKENS),
                           "--max-model-len", "100", "-i", str(inputs), "--rejects", str(rejects)])
    assert code == 0, err
    written = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in written] == [0, 1, 10]
    for record, want in zip(written, reference("obrien"), strict=True):
        assert record["response"] == tokenizer.decode(want, skip_special_tokens=True)
        assert record["generation"] == {
            "expert": str(tiny_llama), "amateur": str(tiny_llama_twin), "beta": 1.0, "alpha": 0.01,
            "formula": "obrien", "amateur_temperature": 1.0, "finish_reason": "length" if len(want) == MAX_TOKENS else "stop", "num_tokens": len(want),
        }
        assert isinstance(record["repetition"], bool)
    assert written[0]["keep"] == 0  # input fields pass through
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["id"], r["reject"]["reason"]) for r in rejected] == [(9, "too_long")]


def test_system_message_goes_through_the_experts_template(pair):
    from llmkit_contrastive.chat import prompt_ids, record_messages

    _, _, tokenizer, _ = pair
    messages = record_messages({"instruction": "hi"}, "instruction", "be brief")
    ids = prompt_ids(tokenizer, messages)
    text = tokenizer.decode(ids)
    assert text.startswith("<s><|system|>\nbe brief\n<|user|>\nhi\n<|assistant|>\n")
    assert ids.count(tokenizer.bos_token_id) == 1
    assert record_messages({"messages": "x"}, "instruction", None).reason == "bad_messages"
    assert record_messages({"other": 1}, "instruction", None).reason == "missing_field"


@pytest.mark.slow  # runs the command on two models and compares with the expert's own greedy decode
@pytest.mark.parametrize("contrast_args", [["--beta", "0"], []])
def test_cli_beta_zero_or_no_amateur_is_plain_greedy_generation_from_the_expert(pair, tiny_llama, tiny_llama_twin, tmp_path, contrast_args):
    import torch

    expert, _, tokenizer, prompts = pair
    amateur_args = ["--amateur", str(tiny_llama_twin), *contrast_args] if contrast_args else []
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"instruction": t}) + "\n" for t in INSTRUCTIONS))
    code, out, err = _run(["--expert", str(tiny_llama), *amateur_args, "--backend", "hf", "--temperature", "0",
                           "--max-tokens", str(MAX_TOKENS), "-i", str(inputs)])
    assert code == 0, err
    written = [json.loads(line) for line in out.splitlines()]
    for record, prompt in zip(written, prompts, strict=True):
        ids = expert.generate(torch.tensor([prompt]), max_new_tokens=MAX_TOKENS, do_sample=False)[0, len(prompt):].tolist()
        assert record["response"] == tokenizer.decode(ids, skip_special_tokens=True)
        assert record["generation"]["formula"] == "plain" and record["generation"]["amateur"] is None


def test_bad_options_exit_2(tiny_llama, tmp_path):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"instruction": "hi"}\n')
    for args in (["--formula", "ratio"], ["--alpha", "2"], ["--beta", "-1"], ["--model", "/elsewhere"]):
        code, out, err = _run(["--expert", str(tiny_llama), "--amateur", str(tiny_llama), "-i", str(inputs), *args])
        assert code == 2 and out == "", args
    code, _, err = _run(["-i", str(inputs)])
    assert code == 2 and "--expert" in err
