"""One trial: prefill the prompt, decode the answer greedily, score every head's copying.

At each decoding step, for every (layer, query head), ``i`` = the top-1 position of the current
query's attention (:mod:`llmkit_ret_heads.capture`). The head gains ``1 / len(span)`` when ``i``
lies in the needle span and the token just generated equals the token at ``i`` (Wu et al.'s
copy-paste rule). As in their code, the prompt's last token is fed as the first decoding step, so
every generated token, the first included, is scored; decoding stops at EOS or a newline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit_ret_heads.capture import Top1Capture
from llmkit_ret_heads.haystack import Trial


@dataclass
class TrialResult:
    scores: Any  # (layers, heads) float tensor
    answer: str
    token_ids: list[int]


def run_trial(model: Any, tokenizer: Any, capture: Top1Capture, trial: Trial, eos_ids: set[int], max_tokens: int) -> TrialResult:
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor([trial.ids], device=device)
    start, end = trial.span
    gain = 1.0 / (end - start)
    seen = ids[0].clone()  # prompt tokens, then the generated ones (the cache's positions)
    scores: Any = None
    generated: list[int] = []
    with torch.inference_mode():
        capture.armed = False
        cache = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
        token = ids[:, -1:]
        for _ in range(max_tokens):
            capture.arm()
            logits = model(input_ids=token, past_key_values=cache, use_cache=True).logits
            top1 = capture.take()  # (layers, heads): positions over the cache, the current one included
            next_id = int(logits[0, -1].argmax())
            copied = (top1 >= start) & (top1 < end) & (seen[top1.clamp(max=len(seen) - 1)] == next_id)
            step = copied.to(torch.float32) * gain
            scores = step if scores is None else scores + step
            if next_id in eos_ids:
                break
            generated.append(next_id)
            if "\n" in tokenizer.decode([next_id]):
                break
            token = torch.tensor([[next_id]], device=device)
            seen = torch.cat([seen, token[0]])
    answer = tokenizer.decode(generated, skip_special_tokens=True).strip()
    return TrialResult(scores.cpu(), answer, generated)
