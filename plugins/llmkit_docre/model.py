"""The DREEAM model on ATLOP: entity pooling, localized context pooling, grouped bilinear classifier.

Per document (positions include the tokenizer's leading specials, the offset):

- mention = hidden state of its opening ``*`` marker; entity = logsumexp over its mentions;
  entity attention = mean over its mentions of their attention rows (heads, L). A mention cut
  off by truncation is skipped; an entity with none left is zeros, as in the anchors.
- localized context pooling: ``a = mean_heads(A_h * A_t)``, normalised to sum to 1 over tokens;
  ``c = H^T a``; ``z_h = tanh(W_h [h; c])``, ``z_t = tanh(W_t [t; c])``.
- grouped bilinear: ``z_h`` and ``z_t`` cut into ``emb_size / block_size`` blocks, the outer
  product within each block, flattened, then one linear layer to the classes.
- sentence attention (DREEAM): ``s_attn[k] = sum of a over the tokens of sentence k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmkit_docre.encoder import WindowEncoder
from llmkit_docre.features import Feature


@dataclass
class PairOutput:
    logits: torch.Tensor  # (pairs, classes)
    token_attention: torch.Tensor  # (pairs, L): the localized context weights a
    sentence_attention: torch.Tensor  # (pairs, sentences)


def entity_pool(hidden: torch.Tensor, attention: torch.Tensor, positions: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Entity embeddings (E, d) by logsumexp over mentions and entity attentions (E, heads, L) by mean."""
    size = hidden.shape[0]
    embs, atts = [], []
    for mentions in positions:
        kept = [p for p in mentions if p < size]
        if kept:
            index = torch.tensor(kept, device=hidden.device)
            embs.append(torch.logsumexp(hidden[index], dim=0))
            atts.append(attention[:, index].mean(1))
        else:
            embs.append(hidden.new_zeros(hidden.shape[-1]))
            atts.append(attention.new_zeros(attention.shape[0], size))
    return torch.stack(embs), torch.stack(atts)


def localized_context(
    hidden: torch.Tensor, entity_attention: torch.Tensor, heads: torch.Tensor, tails: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Context vectors (P, d) and the token weights (P, L) of each (head, tail) pair."""
    weights = (entity_attention[heads] * entity_attention[tails]).mean(1)
    weights = weights / (weights.sum(1, keepdim=True) + 1e-30)
    return weights @ hidden, weights


def sentence_attention(weights: torch.Tensor, sentences: list[tuple[int, int]], offset: int) -> torch.Tensor:
    """Sum of each pair's token weights over each sentence's tokens: (P, sentences)."""
    size = weights.shape[1]
    columns = []
    for start, end in sentences:
        lo, hi = min(start + offset, size), min(end + offset, size)
        columns.append(weights[:, lo:hi].sum(1))
    return torch.stack(columns, dim=1)


class DocREModel(nn.Module):
    def __init__(
        self, encoder: nn.Module, tokenizer: object, num_classes: int, emb_size: int = 768, block_size: int = 64,
        layers: int = 3, window: int = 512,
    ) -> None:
        super().__init__()
        if emb_size % block_size:
            raise ValueError("emb_size must be a multiple of block_size")
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.head_extractor = nn.Linear(2 * hidden, emb_size)
        self.tail_extractor = nn.Linear(2 * hidden, emb_size)
        self.bilinear = nn.Linear(emb_size * block_size, num_classes)
        self.emb_size, self.block_size = emb_size, block_size
        self.windows = WindowEncoder(encoder, tokenizer, window=window, layers=layers)

    def classify(self, heads: torch.Tensor, tails: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        z_h = torch.tanh(self.head_extractor(torch.cat([heads, context], dim=-1)))
        z_t = torch.tanh(self.tail_extractor(torch.cat([tails, context], dim=-1)))
        groups = self.emb_size // self.block_size
        b1 = z_h.view(-1, groups, self.block_size)
        b2 = z_t.view(-1, groups, self.block_size)
        grouped = (b1.unsqueeze(3) * b2.unsqueeze(2)).reshape(-1, self.emb_size * self.block_size)
        return self.bilinear(grouped)

    def forward(self, features: list[Feature]) -> list[PairOutput]:
        encoded = self.windows([f.input_ids for f in features])
        offset = self.windows.offset
        outputs = []
        for feature, (hidden, attention) in zip(features, encoded, strict=True):
            if not feature.pairs:  # fewer than two entities (none at all is valid input)
                empty = hidden.new_zeros((0, self.bilinear.out_features))
                outputs.append(PairOutput(empty, hidden.new_zeros((0, hidden.shape[0])), hidden.new_zeros((0, len(feature.sentences)))))
                continue
            positions = [[p + offset for p in mentions] for mentions in feature.mentions]
            entities, entity_att = entity_pool(hidden, attention, positions)
            pairs = torch.tensor(feature.pairs, device=hidden.device)
            context, weights = localized_context(hidden, entity_att, pairs[:, 0], pairs[:, 1])
            logits = self.classify(entities[pairs[:, 0]], entities[pairs[:, 1]], context)
            outputs.append(PairOutput(logits, weights, sentence_attention(weights, feature.sentences, offset)))
        return outputs

    def added_parameters(self) -> list[nn.Parameter]:
        """The layers ATLOP adds on the encoder (their own learning rate)."""
        return [*self.head_extractor.parameters(), *self.tail_extractor.parameters(), *self.bilinear.parameters()]
