"""`--formula li` (Li et al.'s full rule) and `--amateur-temperature`, against naive references
written here from the rule's statement (float64, one token at a time, no cache)."""

from __future__ import annotations

import json
import math

import pytest

from llmkit import SamplingParams
from llmkit.testing import run_command

from .reference import MAX_TOKENS


def naive_li(ze, za, *, beta, alpha, temperature, amateur_temperature, top_k, top_p, compat="llmkit"):
    """Li et al.: on the expert, top-k, then the plausibility cut, then top-p over the plausible
    set renormalised; expert / T last, amateur at its own temperature; returns {token: probability}
    (T = 0: {argmax: 1}, over the whole vocabulary under compat "official", as their greedy search)."""
    ze, za = [float(x) for x in ze], [float(x) for x in za]
    ze_max = max(ze)
    norm = math.log(sum(math.exp(x - ze_max) for x in ze)) + ze_max
    lpe = [x - norm for x in ze]
    za = [x / amateur_temperature for x in za]
    za_max = max(za)
    norm_a = math.log(sum(math.exp(x - za_max) for x in za)) + za_max
    lpa = [x - norm_a for x in za]
    if temperature == 0 and compat == "official":
        return {max(range(len(ze)), key=lambda t: lpe[t] - beta * lpa[t]): 1.0}
    order = sorted(range(len(ze)), key=lambda t: -lpe[t])
    candidates = order[:top_k] if 0 < top_k < len(ze) else order
    best = max(math.exp(x) for x in lpe)
    candidates = [t for t in candidates if math.exp(lpe[t]) >= alpha * best]
    total = sum(math.exp(lpe[t]) for t in candidates)
    kept, mass = [], 0.0
    for t in candidates:
        if top_p < 1.0 and mass >= top_p:
            break
        kept.append(t)
        mass += math.exp(lpe[t]) / total
    if temperature == 0:
        return {max(kept, key=lambda t: lpe[t] - beta * lpa[t]): 1.0}
    score = {t: lpe[t] / temperature - beta * lpa[t] for t in kept}
    top = max(score.values())
    z = sum(math.exp(v - top) for v in score.values())
    return {t: math.exp(v - top) / z for t, v in score.items()}


SETTINGS = [
    # beta, alpha, T, T_amateur, top_k, top_p
    (1.0, 0.01, 1.0, 0.5, 0, 1.0),
    (0.5, 0.1, 0.7, 0.5, 5, 1.0),
    (1.0, 0.001, 1.3, 1.0, 0, 0.6),
    (2.0, 0.0, 0.5, 0.8, 8, 0.9),
    (1.0, 0.05, 0.0, 0.5, 4, 1.0),
]


@pytest.mark.parametrize(("beta", "alpha", "temperature", "t_amateur", "top_k", "top_p"), SETTINGS)
def test_li_distribution_equals_the_naive_rule(beta, alpha, temperature, t_amateur, top_k, top_p):
    import torch

    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.li import li_scores

    gen = torch.Generator().manual_seed(7)
    expert, amateur = torch.randn(4, 32, generator=gen) * 3, torch.randn(4, 32, generator=gen) * 3
    contrast = Contrast(beta, alpha, "li", t_amateur)
    scores = li_scores(expert, amateur, contrast, temperature=temperature, top_k=top_k, top_p=top_p)
    for row in range(4):
        want = naive_li(expert[row].tolist(), amateur[row].tolist(), beta=beta, alpha=alpha,
                        temperature=temperature, amateur_temperature=t_amateur, top_k=top_k, top_p=top_p)
        if temperature == 0:
            assert int(scores[row].argmax()) == next(iter(want))
            continue
        probs = torch.softmax(scores[row].double(), dim=-1)
        assert set(torch.nonzero(probs > 0).flatten().tolist()) == set(want)
        for token, p in want.items():
            assert float(probs[token]) == pytest.approx(p, abs=1e-5)


def test_li_is_not_codit():
    # the same settings under CoDIT's rule (temperature and top-k on the contrastive score) give another distribution
    import torch

    from llmkit_contrastive.formulas import Contrast, contrastive_scores
    from llmkit_contrastive.li import li_scores

    gen = torch.Generator().manual_seed(3)
    expert, amateur = torch.randn(1, 32, generator=gen) * 3, torch.randn(1, 32, generator=gen) * 3
    li = torch.softmax(li_scores(expert, amateur, Contrast(1.0, 0.001, "li"), temperature=0.5, top_k=6), dim=-1)
    codit = contrastive_scores(expert, amateur, Contrast(1.0, 0.001, "difference")) / 0.5
    kth = codit.topk(6).values[..., -1:]
    codit = torch.softmax(codit.masked_fill(codit < kth, -math.inf), dim=-1)
    assert not torch.allclose(li, codit, atol=1e-3)


@pytest.mark.parametrize("formula", ["difference", "obrien"])
def test_amateur_temperature_divides_the_amateur_logits(formula):
    import torch

    from llmkit_contrastive.formulas import Contrast, contrastive_scores

    gen = torch.Generator().manual_seed(5)
    expert, amateur = torch.randn(2, 16, generator=gen), torch.randn(2, 16, generator=gen)
    got = contrastive_scores(expert, amateur, Contrast(0.7, 0.05, formula, amateur_temperature=0.5))
    e, a = expert.double(), amateur.double() / 0.5
    if formula == "difference":
        lpe = e.log_softmax(-1)
        want = (lpe - 0.7 * a.log_softmax(-1)).masked_fill(lpe.exp() < 0.05 * lpe.exp().max(-1, keepdim=True).values, -math.inf)
    else:
        want = ((1.7 * e) - 0.7 * a).masked_fill(e < math.log(0.05) + e.max(-1, keepdim=True).values, -math.inf)
    assert torch.allclose(got.double(), want, atol=1e-5)
    default = contrastive_scores(expert, amateur, Contrast(0.7, 0.05, formula))
    assert not torch.allclose(default, got)  # 1.0 (CoDIT) differs from 0.5


def naive_li_greedy(expert, amateur, prompt, *, vocab_size, eos_id, top_k, amateur_temperature):
    import torch

    ids, out = list(prompt), []
    with torch.no_grad():
        for _ in range(MAX_TOKENS):
            x = torch.tensor([ids])
            le = expert(x).logits[0, -1, :vocab_size].double().tolist()
            la = amateur(x).logits[0, -1, :vocab_size].double().tolist()
            token = next(iter(naive_li(le, la, beta=1.0, alpha=0.01, temperature=0, amateur_temperature=amateur_temperature,
                                       top_k=top_k, top_p=1.0)))
            out.append(token)
            ids.append(token)
            if token == eos_id:
                break
    return out


@pytest.mark.slow  # compares with a naive token-by-token decode of two models
def test_hf_lockstep_li_greedy_equals_the_naive_decoder(pair):
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.hf_decode import LockstepDecoder

    expert, amateur, tokenizer, prompts = pair
    decoder = LockstepDecoder(expert, amateur, tokenizer, Contrast(1.0, 0.01, "li", 0.5), vocab_size=len(tokenizer),
                              max_model_len=1024, eos_ids={tokenizer.eos_token_id})
    got = decoder.generate(prompts, SamplingParams(temperature=0, top_k=3, max_tokens=MAX_TOKENS))
    for prompt, completions in zip(prompts, got, strict=True):
        want = naive_li_greedy(expert, amateur, prompt, vocab_size=len(tokenizer), eos_id=tokenizer.eos_token_id,
                               top_k=3, amateur_temperature=0.5)
        assert completions[0].token_ids == want


@pytest.mark.slow  # compares with a naive token-by-token decode of two models
@pytest.mark.parametrize("formula", ["difference", "obrien"])
def test_hf_lockstep_amateur_temperature_equals_the_naive_decoder(pair, reference, formula):
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.hf_decode import LockstepDecoder

    expert, amateur, tokenizer, prompts = pair
    decoder = LockstepDecoder(expert, amateur, tokenizer, Contrast(1.0, 0.01, formula, 0.5), vocab_size=len(tokenizer),
                              max_model_len=1024, eos_ids={tokenizer.eos_token_id})
    got = decoder.generate(prompts, SamplingParams(temperature=0, max_tokens=MAX_TOKENS))
    want = reference(formula, amateur_temperature=0.5)
    assert [c[0].token_ids for c in got] == want
    assert want != reference(formula)  # the amateur's temperature changes the output


def _run(args):
    run = run_command(["contrastive-gen", *args])
    return run.status, run.stdout.decode(), run.stderr


def test_cli_li_on_hf_records_its_settings(tiny_llama, tiny_llama_twin, tmp_path):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"instruction": "hi"}) + "\n")
    base = ["--expert", str(tiny_llama), "--amateur", str(tiny_llama_twin), "--formula", "li", "-i", str(inputs)]
    code, out, err = _run([*base, "--backend", "hf", "--amateur-temperature", "0.5", "--max-tokens", "4",
                           "--temperature", "0"])
    assert code == 0, err
    generation = json.loads(out)["generation"]
    assert (generation["formula"], generation["amateur_temperature"]) == ("li", 0.5)
    code, _, err = _run([*base, "--amateur-temperature", "0"])
    assert code == 2 and "--amateur-temperature" in err
