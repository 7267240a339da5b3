"""docre ISF pieces against DREEAM's fusion code: relative scores and which pairs get a pseudo-document."""

from __future__ import annotations

import torch

from llmkit_docre.data import Document, parse_document
from llmkit_docre.infer import relative_scores
from llmkit_docre.isf import second_pass
from llmkit_docre.predictor import Candidates, FirstPass


def _dreeam_relative(scores: list[float], topks: list[int]) -> list[float]:
    """DREEAM's ``extract_relative_score``, written out for one pair (scores sorted descending)."""
    na = scores[-1] - 1
    if 0 in topks:
        na = scores[topks.index(0)]
    return [s - na for s in scores]


def test_relative_scores_follow_dreeam_with_and_without_the_threshold_in_the_top_k():
    logits = torch.tensor([
        [0.5, 3.0, -1.0, 2.0, 1.0, -2.0],  # TH 4th: logit - TH
        [-3.0, 4.0, 2.5, 1.0, 0.5, -1.0],  # TH outside the top 4: logit - (4th - 1)
        [9.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # TH first
    ])
    scores, top = relative_scores(logits, 4)
    for i in range(3):
        values, order = torch.topk(logits[i], 4)
        expected = _dreeam_relative(values.tolist(), order.tolist())
        assert top[i].tolist() == order.tolist()
        assert torch.allclose(scores[i], torch.tensor(expected))
    assert scores[1].tolist() == [4.5, 3.0, 1.5, 1.0]  # not logit - TH (7.0, 5.5, 4.0, 3.5)
    assert scores[2, 0].item() == 0.0 and (scores[2, 1:] < 0).all()


def _document() -> Document:
    record = {
        "title": "d",
        "sents": [["A", "met", "B", "."], ["Filler", "."], ["C", "saw", "A", "."]],
        "vertexSet": [
            [{"name": "A", "sent_id": 0, "pos": [0, 1], "type": "PER"}, {"name": "A", "sent_id": 2, "pos": [2, 3], "type": "PER"}],
            [{"name": "B", "sent_id": 0, "pos": [2, 3], "type": "PER"}],
            [{"name": "C", "sent_id": 2, "pos": [0, 1], "type": "PER"}],
        ],
    }
    parsed = parse_document(record, labels=False)
    assert isinstance(parsed, Document)
    return parsed


def test_a_pair_the_first_pass_missed_still_gets_its_pseudo_document():
    """DREEAM builds pseudo-documents from every pair's top-k file, not only predicted triples."""
    document = _document()
    calls: list[list[Document]] = []

    class Rescorer:
        def candidates(self, documents: list[Document]) -> list[Candidates]:
            calls.append(documents)
            return [Candidates({(0, 1, "P1"): 1.5}, {}) for _ in documents]

    # first pass: nothing positive; pair (2, 0) has evidence sentence 2
    evidence = {(h, t): ([2] if (h, t) == (2, 0) else []) for h in range(3) for t in range(3) if h != t}
    first = FirstPass({(2, 0, "P1"): -0.5}, evidence, [])
    second = second_pass(Rescorer(), document, first)
    assert len(calls) == 1 and len(calls[0]) == 1
    pseudo = calls[0][0]
    assert pseudo.sents == [["C", "saw", "A", "."]]
    # entities kept in the pseudo-document: A (index 0) and C (index 2); pseudo pair (0, 1) is (0, 2) there
    assert second == {(0, 2, "P1"): 1.5}
