"""`docre recommend --source model`: a trained docre model's predictions as recommendations.

A tiny docre model is trained for one epoch on the synthetic corpus (what it learns does not
matter here): recommending straight from the model must give what `docre predict` followed by
`recommend --source predictions` gives, on the same documents."""

from __future__ import annotations

import pytest

from tests.docre.helpers import docre, read_jsonl

pytestmark = pytest.mark.slow  # trains a docre model for an epoch


@pytest.fixture(scope="module")
def docre_model(tmp_path_factory):
    from llmkit_docre.synthetic import write_corpus

    from tests.docre.helpers import build_tiny_encoder

    root = tmp_path_factory.mktemp("docre_rec")
    paths = write_corpus(root / "data", train=16, dev=6, seed=3)
    encoder = build_tiny_encoder(root / "encoder")
    model = root / "model"
    status = docre("train", "--encoder", encoder, "--train", paths["train"], "--relations", paths["relations"], "-o", model,
                   "--epochs", "1", "--emb-size", "32", "--block-size", "8", "--device", "cpu", "-q")
    assert status == 0
    return model, paths["dev"]


def test_model_recommendations_are_the_model_predictions(docre_model, tmp_path):
    model, dev = docre_model
    direct, predicted, via = tmp_path / "direct.jsonl", tmp_path / "predicted.jsonl", tmp_path / "via.jsonl"
    assert docre("recommend", "-i", dev, "-o", direct, "--model", model, "--device", "cpu", "--top-k", "2", "-q") == 0
    assert docre("predict", "-i", dev, "-o", predicted, "--model", model, "--device", "cpu", "-q") == 0
    assert docre("recommend", "-i", predicted, "-o", via, "--source", "predictions", "--top-k", "2", "-q") == 0
    direct_docs, via_docs = read_jsonl(direct), read_jsonl(via)
    assert len(direct_docs) == 6
    assert [d["recommended_labels"] for d in direct_docs] == [d["recommended_labels"] for d in via_docs]
    predicted_docs = read_jsonl(predicted)
    assert sum(len(d["predicted_labels"]) for d in predicted_docs) > 0  # the comparison is not of empty lists
    for doc, pred in zip(direct_docs, predicted_docs, strict=True):  # the best two per pair, by score
        best: dict = {}
        for x in sorted(pred["predicted_labels"], key=lambda x: (-x["score"], x["r"])):
            best.setdefault((x["h"], x["t"]), []).append(x)
        expected = sorted(((h, t, x["r"]) for (h, t), xs in best.items() for x in xs[:2]))
        assert sorted((x["h"], x["t"], x["r"]) for x in doc["recommended_labels"]) == expected
    assert direct_docs[0]["recommended_by"] == {"source": "model", "top_k": 2, "min_score": None, "model": str(model)}
    for doc in direct_docs:
        assert "predicted_labels" not in doc  # the document as it came, plus the recommendations
        pairs = [(x["h"], x["t"]) for x in doc["recommended_labels"]]
        assert all(pairs.count(p) <= 2 for p in pairs)
