"""From a checked document to model inputs, as ATLOP/DREEAM's preprocessing builds them.

Every word token is split into sub-word pieces on its own; a ``*`` marker goes before the first
and after the last token of every mention; the mention is then the position of its opening
marker. Sentence spans are in sub-word positions (markers included). Positions here count from
the first content piece; the encoder adds the tokenizer's leading special tokens (the offset).
Every ordered pair of distinct entities is a candidate; its labels are multi-hot over the
inventory (column 0 = no relation) and its evidence target counts, per sentence, the gold
relations of the pair that cite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmkit_docre.data import Document
from llmkit_docre.encoder import special_ids

MARKER = "*"


@dataclass
class Feature:
    input_ids: list[int]  # content pieces only; specials are added by the encoder
    mentions: list[list[int]]  # per entity: opening-marker positions (content coordinates)
    sentences: list[tuple[int, int]]  # [start, end) per sentence, content coordinates
    pairs: list[tuple[int, int]]
    labels: list[list[int]] | None = None  # per pair: classes (relation ids) it holds; [] = NA
    evidence: list[list[int]] | None = None  # per pair: counts per sentence
    document: Document | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Featurizer:
    """Turns documents into :class:`Feature` with one tokenizer (a fast Hugging Face one)."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer = tokenizer
        self.marker = tokenizer(MARKER, add_special_tokens=False)["input_ids"]
        start, end = special_ids(tokenizer)
        self.special_count = len(start) + len(end)
        self.max_content = max_length - self.special_count

    def __call__(self, document: Document, with_labels: bool = True) -> Feature:
        starts = {(m.sent_id, m.start) for entity in document.entities for m in entity}
        # an empty span [s, s] closes after token s (ATLOP closes it before; the mention, the
        # opening marker, is the same either way)
        ends = {(m.sent_id, max(m.end, m.start + 1) - 1) for entity in document.entities for m in entity}
        words = [token for sent in document.sents for token in sent]
        pieces = self.tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
        ids: list[int] = []
        where: dict[tuple[int, int], int] = {}
        sentences = []
        k = 0
        for s, sent in enumerate(document.sents):
            begin = len(ids)
            for t in range(len(sent)):
                if (s, t) in starts:
                    where[(s, t)] = len(ids)
                    ids.extend(self.marker)
                ids.extend(pieces[k])
                k += 1
                if (s, t) in ends:
                    ids.extend(self.marker)
            sentences.append((begin, len(ids)))
        ids = ids[: self.max_content]
        mentions = [[where[(m.sent_id, m.start)] for m in entity] for entity in document.entities]
        n = len(document.entities)
        pairs = [(h, t) for h in range(n) for t in range(n) if h != t]
        feature = Feature(ids, mentions, sentences, pairs, document=document)
        if with_labels:
            index = {pair: i for i, pair in enumerate(pairs)}
            labels: list[list[int]] = [[] for _ in pairs]
            evidence = [[0] * len(sentences) for _ in pairs]
            for fact in document.facts:
                i = index[(fact.head, fact.tail)]
                if fact.relation not in labels[i]:
                    labels[i].append(fact.relation)
                for s in fact.evidence:
                    evidence[i][s] += 1
            feature.labels, feature.evidence = labels, evidence
        return feature
