"""A naive contrastive decoder for tests: no cache, no batching, both models' full forward pass
recomputed from scratch at every step, formulas written out again here (in float64)."""

from __future__ import annotations

import math

#: prompts of different lengths (so batching needs left padding), and the tokens to generate
INSTRUCTIONS = ["hi", "the cat sat on the mat and then it went away", "write a poem about a long river"]
MAX_TOKENS = 16


def naive_scores(expert_logits, amateur_logits, formula: str, beta: float, alpha: float, amateur_temperature: float = 1.0):
    expert_logits, amateur_logits = expert_logits.double(), amateur_logits.double() / amateur_temperature
    if formula == "difference":
        lp_e, lp_a = expert_logits.log_softmax(-1), amateur_logits.log_softmax(-1)
        keep = lp_e.exp() >= alpha * lp_e.exp().max()
        scores = lp_e - beta * lp_a
    else:
        keep = expert_logits >= math.log(alpha) + expert_logits.max()
        scores = (1 + beta) * expert_logits - beta * amateur_logits
    return scores.masked_fill(~keep, -math.inf)


def naive_greedy(expert, amateur, prompt: list[int], *, formula: str, beta: float, alpha: float,
                 vocab_size: int, eos_id: int, max_tokens: int, amateur_temperature: float = 1.0) -> list[int]:
    import torch

    ids, out = list(prompt), []
    with torch.no_grad():
        for _ in range(max_tokens):
            x = torch.tensor([ids])
            le = expert(x).logits[0, -1, :vocab_size]
            la = amateur(x).logits[0, -1, :vocab_size]
            token = int(naive_scores(le, la, formula, beta, alpha, amateur_temperature).argmax())
            out.append(token)
            ids.append(token)
            if token == eos_id:
                break
    return out
