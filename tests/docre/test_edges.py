"""docre on awkward documents: no entity, one entity, empty sentences, blank tokens (an untrained
tiny model is enough: these check that nothing crashes or turns to NaN, not what is predicted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docre.helpers import docre, read_jsonl, write_jsonl

torch = pytest.importorskip("torch")

SMALL = ["--emb-size", "64", "--block-size", "16", "--layers", "2", "-q"]  # the encoder has 2 layers


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from llmkit_docre.checkpoint import ModelSettings, load_encoder, save
    from llmkit_docre.data import load_relations
    from llmkit_docre.model import DocREModel
    from llmkit_docre.synthetic import write_corpus

    from tests.docre.helpers import build_tiny_encoder

    root = tmp_path_factory.mktemp("docre_edges")
    paths = write_corpus(root / "data", train=4, dev=2, seed=0)
    paths["encoder"] = build_tiny_encoder(root / "encoder", hidden=32, layers=2, dropout=0.0, arch="deberta")
    encoder, tokenizer = load_encoder(str(paths["encoder"]))
    relations = load_relations(paths["relations"])
    torch.manual_seed(0)
    model = DocREModel(encoder, tokenizer, relations.num_classes, 64, 16)
    settings = ModelSettings(relations=relations.to_json(), emb_size=64, block_size=16, encoder=str(paths["encoder"]))
    save(root / "model", model, tokenizer, settings)
    paths["model"] = root / "model"
    paths["root"] = root
    return paths


def test_documents_without_pairs_predict_nothing_and_do_not_stop_the_run(tiny, tmp_path):
    base = read_jsonl(tiny["dev"])[0]
    blank = [list(s) for s in base["sents"]]
    blank[0] += ["", " "]
    docs = [
        dict(base, title="no_entities", vertexSet=[]),
        dict(base, title="empty_sentence", sents=[[]], vertexSet=[]),
        dict(base, title="one_entity", vertexSet=base["vertexSet"][:1]),
        dict(base, title="blank_tokens", sents=blank),
        dict(base, title="bad", vertexSet=[[{"name": "x", "sent_id": 0, "pos": [3, 1]}]]),
    ]
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    status = docre("predict", "--model", tiny["model"], "-i", write_jsonl(tmp_path / "in.jsonl", docs), "-o", out, "--rejects", rejects, "-q")
    assert status == 0
    written = {d["title"]: d["predicted_labels"] for d in read_jsonl(out)}
    assert written["no_entities"] == written["empty_sentence"] == written["one_entity"] == []
    assert isinstance(written["blank_tokens"], list)
    assert [r["reject"]["reason"] for r in read_jsonl(rejects)] == ["mention_out_of_range"]


def test_training_documents_without_a_pair_are_left_out_not_turned_to_nan(tiny, tmp_path, capsys):
    docs = read_jsonl(tiny["train"])
    lonely = [dict(d, vertexSet=d["vertexSet"][:1], labels=[]) for d in docs[:3]]
    train = write_jsonl(tmp_path / "train.jsonl", [docs[3], *lonely])
    out = tmp_path / "model"
    status = docre(
        "train", "--encoder", tiny["encoder"], "--train", train, "--relations", tiny["relations"], "-o", out,
        "--epochs", "1", "--batch-size", "1", *SMALL[:-1],
    )
    assert status == 0
    assert "3 training documents with fewer than two entities left out" in capsys.readouterr().err
    head = torch.load(out / "head.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in head.values())
    only_lonely = write_jsonl(tmp_path / "lonely.jsonl", lonely)
    status = docre("train", "--encoder", tiny["encoder"], "--train", only_lonely, "--relations", tiny["relations"], "-o", tmp_path / "m2", *SMALL)
    assert status == 65


def test_a_head_file_missing_a_layer_is_refused_not_left_random(tiny, tmp_path):
    import shutil

    model = tmp_path / "broken"
    shutil.copytree(tiny["model"], model)
    head = torch.load(model / "head.pt", weights_only=True)
    del head["bilinear.weight"]
    torch.save(head, model / "head.pt")
    inputs = write_jsonl(tmp_path / "in.jsonl", read_jsonl(tiny["dev"])[:1])
    assert docre("predict", "--model", model, "-i", inputs, "-o", tmp_path / "out.jsonl", "-q") == 65  # a damaged model is bad input


def test_the_seed_fixes_the_added_layers_initialisation(tiny, tmp_path):
    from llmkit_docre.data import load_relations
    from llmkit_docre.train import Trainer, TrainOptions

    relations = load_relations(tiny["relations"])
    options = TrainOptions(emb_size=64, block_size=16, seed=5, device="cpu", quiet=True)
    weights = []
    for noise in (1, 2):
        torch.manual_seed(noise)  # whatever the global state was before
        trainer = Trainer(str(tiny["encoder"]), relations, tmp_path / f"m{noise}", options)
        weights.append(trainer.model.bilinear.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])
