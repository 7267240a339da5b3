"""Teacher-forced forward passes of a transformers model: token log-probs and distribution moments.

Log-probs are computed in float32 whatever the weights' dtype, and one sequence at a time from the
batch's logits, so memory stays at one (length x vocab) block beyond the logits themselves.
"""

from __future__ import annotations

from typing import Any

from llmkit.backends.base import TokenDistributionScores, TokenScores


def left_padded(batch: list[list[int]], pad_id: int, device: str) -> tuple[Any, Any]:
    """(input_ids, attention_mask) with every row padded on the left to the longest one."""
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        if ids:
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
    return input_ids.to(device), attention.to(device)


def _forward_logits(model: Any, batch: list[list[int]], pad_id: int, device: str) -> Any:
    """Logits of a left-padded batch; position ids follow the mask, so padding changes nothing."""
    import torch

    input_ids, attention = left_padded(batch, pad_id, device)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        return model(input_ids=input_ids, attention_mask=attention, position_ids=positions).logits


def teacher_forced(
    model: Any, batch: list[list[int]], pad_id: int, device: str, with_moments: bool
) -> list[TokenScores]:
    """log p(ids[i] | ids[:i]) for i >= 1 of each sequence (and, with_moments, the mean and std of
    log p over the vocabulary at each of those positions)."""
    import torch

    scorable = [i for i, ids in enumerate(batch) if len(ids) >= 2]
    out: list[TokenScores] = [_empty(with_moments) for _ in batch]
    if not scorable:
        return out
    logits = _forward_logits(model, [batch[i] for i in scorable], pad_id, device)
    width = logits.shape[1]
    for row, index in enumerate(scorable):
        ids = batch[index]
        # left padding: the sequence sits at the right end; position t predicts token t + 1
        predicting = logits[row, width - len(ids) : width - 1].float()
        logprobs = torch.log_softmax(predicting, dim=-1)
        targets = torch.tensor(ids[1:], device=logprobs.device)
        token_lp = logprobs.gather(-1, targets[:, None])[:, 0]
        if with_moments:
            probs = logprobs.exp()
            mean = (probs * logprobs).sum(-1)
            var = (probs * (logprobs - mean[:, None]) ** 2).sum(-1)
            out[index] = TokenDistributionScores(
                token_ids=ids[1:],
                logprobs=token_lp.tolist(),
                mean_logprobs=mean.tolist(),
                std_logprobs=var.clamp(min=0).sqrt().tolist(),
            )
        else:
            out[index] = TokenScores(token_ids=ids[1:], logprobs=token_lp.tolist())
    return out


def last_logprobs(model: Any, batch: list[list[int]], pad_id: int, device: str) -> list[Any]:
    """The log-probs over the vocabulary of the token after each sequence, as float32 numpy arrays."""
    import torch

    if not batch:
        return []
    logits = _forward_logits(model, batch, pad_id, device)
    last = torch.log_softmax(logits[:, -1].float(), dim=-1)  # left padding: every row ends at -1
    return [row.cpu().numpy() for row in last]


def _empty(with_moments: bool) -> TokenScores:
    """A text of fewer than two tokens has nothing to score (its first token has no context)."""
    return TokenDistributionScores([], []) if with_moments else TokenScores([], [])
