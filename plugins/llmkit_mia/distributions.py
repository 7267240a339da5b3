"""Per-position statistics of the full next-token distribution, for Min-K%++.

The backend interface gives only the log-prob of the observed token; Min-K%++ also needs the
mean and standard deviation of log p(z) over the whole vocabulary at each position. This module
holds the model in this process (the core's :class:`~llmkit.backends.LocalModel`: a second copy
when the backend is vllm) and computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmkit import ModelOptions
from llmkit.backends import LocalModel


@dataclass(slots=True)
class PositionStats:
    """For each scored token t (every token after the first, BOS included as the first):
    log p(x_t), mu_t = E_z[log p(z)] and sigma_t = sqrt(E_z[(log p(z) - mu_t)^2])."""

    logprobs: list[float]
    means: list[float]
    stds: list[float]
    error: str | None = None


class DistributionScorer:
    """Teacher-forced passes through a transformers causal LM, one batch at a time."""

    def __init__(self, options: ModelOptions, batch_size: int = 8) -> None:
        self.local = LocalModel(options, "by minkpp (a model transformers can load)")
        self.batch_size = batch_size

    def open(self) -> None:
        self.local.load()

    def stats(self, texts: Sequence[str]) -> list[PositionStats]:
        encoded = [self.local.tokenizer(text, add_special_tokens=True)["input_ids"] for text in texts]
        max_len = self.local.context_length
        results: list[PositionStats | None] = [None] * len(texts)
        runnable = []
        for i, ids in enumerate(encoded):
            if len(ids) < 2:
                results[i] = PositionStats([], [], [], error="too_short")
            elif max_len is not None and len(ids) + 1 > max_len:  # the backends' rule, so
                # every method scores the same texts (vLLM needs room for one generated token)
                results[i] = PositionStats([], [], [], error="too_long")
            else:
                runnable.append(i)
        for start in range(0, len(runnable), self.batch_size):
            chunk = runnable[start : start + self.batch_size]
            for i, stats in zip(chunk, self._forward([encoded[i] for i in chunk]), strict=True):
                results[i] = stats
        return results  # type: ignore[return-value]

    def _forward(self, batch: list[list[int]]) -> list[PositionStats]:
        torch = _torch()
        width = max(len(ids) for ids in batch)
        pad = self.local.tokenizer.pad_token_id or 0
        device = self.local.device
        # right padding: positions before the padding see exactly the unpadded prefix
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in batch], device=device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=device)
        with torch.inference_mode():
            logits = self.local.model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            probs = logp.exp()
            means = (probs * logp).sum(-1)
            stds = (probs * (logp - means.unsqueeze(-1)).square()).sum(-1).sqrt()
            observed = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        out = []
        for row, ids in enumerate(batch):
            t = len(ids) - 1
            out.append(PositionStats(observed[row, :t].tolist(), means[row, :t].tolist(), stds[row, :t].tolist()))
        return out

    def close(self) -> None:
        self.local.close()


def _torch() -> Any:
    import torch

    return torch
