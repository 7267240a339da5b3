"""Encoding documents longer than the encoder's window, merged as ATLOP/DREEAM's ``long_seq.py`` does.

A document whose pieces (with the tokenizer's specials) fit in ``window`` (512) is encoded in
one pass. A longer one is cut into windows of ``window`` tokens, each ``[start specials] content
[end specials]``: two for up to ``2 * (window - specials)`` content tokens, the first at the start
and the last ending at the end, exactly as the anchors cut it; further windows, evenly spaced,
for longer documents (the anchors cap documents at 1024 pieces and so never need them). Merged:
a position's hidden state is the mean over the windows that hold it; attention rows are summed
over windows and renormalised to sum to 1. The leading specials are taken from the first window
and the trailing ones from the last.

Hidden states and attentions are the mean of the last ``layers`` layers (DREEAM: 3; ATLOP: 1).
"""

from __future__ import annotations

import math
from typing import Any

import torch


def special_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single text ([CLS] / [SEP], <s> / </s>)."""
    probe = "*"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for cut in range(len(full) - len(bare) + 1):
        if full[cut : cut + len(bare)] == bare:
            return list(full[:cut]), list(full[cut + len(bare) :])
    return [], []


def window_starts(content: int, width: int) -> list[int]:
    """Content offsets of the windows that cover ``content`` tokens, ``width`` at a time."""
    if content <= width:
        return [0]
    count = max(2, math.ceil(content / width))
    return [round(i * (content - width) / (count - 1)) for i in range(count)]


class WindowEncoder:
    """Runs a Hugging Face encoder over feature ids; returns per document (hidden, attention)."""

    def __init__(self, model: Any, tokenizer: Any, window: int = 512, layers: int = 3) -> None:
        self.model = model
        self.window = window
        self.layers = layers
        self.start_ids, self.end_ids = special_ids(tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.width = window - len(self.start_ids) - len(self.end_ids)

    @property
    def offset(self) -> int:
        return len(self.start_ids)

    def __call__(self, contents: list[list[int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """For each content id list: hidden (L, d) and attention (heads, L, L), L = with specials."""
        pieces: list[list[int]] = []
        plan: list[list[int]] = []  # per document, its window starts
        for content in contents:
            starts = window_starts(len(content), self.width)
            plan.append(starts)
            pieces.extend(self.start_ids + content[s : s + self.width] + self.end_ids for s in starts)
        hidden, attention = self._run(pieces)
        results, k = [], 0
        for content, starts in zip(contents, plan, strict=True):
            size = len(content) + len(self.start_ids) + len(self.end_ids)
            if len(starts) == 1:
                results.append((hidden[k, :size], attention[k, :, :size, :size]))
            else:
                results.append(self._merge(hidden[k : k + len(starts)], attention[k : k + len(starts)], starts, len(content)))
            k += len(starts)
        return results

    def _run(self, pieces: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = max(len(p) for p in pieces)
        device = next(self.model.parameters()).device
        ids = torch.full((len(pieces), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(pieces), longest), dtype=torch.long)
        for i, p in enumerate(pieces):
            ids[i, : len(p)] = torch.tensor(p)
            mask[i, : len(p)] = 1
        out = self.model(input_ids=ids.to(device), attention_mask=mask.to(device), output_attentions=True, output_hidden_states=True)
        layers = min(self.layers, len(out.attentions))
        hidden = torch.stack(out.hidden_states[-layers:], dim=1).mean(1)
        attention = torch.stack(out.attentions[-layers:], dim=1).mean(1)
        return hidden, attention

    def _merge(
        self, hidden: torch.Tensor, attention: torch.Tensor, starts: list[int], content: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lead, tail = len(self.start_ids), len(self.end_ids)
        size = content + lead + tail
        heads = attention.shape[1]
        h_sum = hidden.new_zeros((size, hidden.shape[-1]))
        count = hidden.new_zeros((size,))
        a_sum = attention.new_zeros((heads, size, size))
        last = len(starts) - 1
        for w, s in enumerate(starts):
            # window positions kept: the leading specials only in the first window, the trailing
            # ones only in the last, the content always
            lo = 0 if w == 0 else lead
            hi = lead + self.width + (tail if w == last else 0)
            full_lo = s + lo  # full position of window position lo (window pos p -> s + p)
            full_hi = s + hi
            h_sum[full_lo:full_hi] += hidden[w, lo:hi]
            count[full_lo:full_hi] += 1
            a_sum[:, full_lo:full_hi, full_lo:full_hi] += attention[w, :, lo:hi, lo:hi]
        merged_hidden = h_sum / (count.unsqueeze(-1) + 1e-10)
        merged_attention = a_sum / (a_sum.sum(-1, keepdim=True) + 1e-10)
        return merged_hidden, merged_attention
