"""A synthetic templated DocRED corpus and a tiny random encoder, built offline.

For tests, the benchmark and the example: each document introduces people, cities and
companies in filler sentences, states some relations with one sentence each (the evidence), and
puts other pairs side by side in sentences that state nothing ("X visited Y"), so that neither
co-occurrence nor entity types alone give the answer; a related pair often also meets in a
sentence that states nothing ("X and Y were in the news"), so that the evidence is not simply
where the two entities meet. Names are made-up words from a
fixed pool per entity type, combined at random; every relation has one fixed template.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

RELATIONS = {"Na": 0, "P19": 1, "P108": 2, "P131": 3}
_STATE = {
    "P19": ("{h} was born in {t} .", "person", "city"),
    "P108": ("{h} works for {t} .", "person", "company"),
    "P131": ("{h} is located in {t} .", "company", "city"),
}
_DISTRACT = {
    ("person", "city"): "{h} visited {t} last year .",
    ("person", "company"): "{h} wrote about {t} once .",
    ("company", "city"): "{h} sells products far from {t} .",
}
_INTRO = {
    "person": ["{e} is a famous writer .", "{e} likes music and long walks ."],
    "city": ["{e} is a large city .", "{e} has an old harbour ."],
    "company": ["{e} is a small company .", "{e} makes tools ."],
}
_TOGETHER = "{h} and {t} were in the news ."
_FILLER = ["the weather was mild that season .", "many people read the news .", "the river froze in winter .", "prices rose slowly ."]
_SYLLABLES = ["ka", "lo", "mi", "ru", "te", "sa", "no", "vi", "de", "po", "zu", "ha", "ri", "ga", "be", "fo"]
TYPES = {"person": "PER", "city": "LOC", "company": "ORG"}


def _pool(kind: str) -> list[str]:
    """A fixed pool of made-up names per entity type, shared by all splits (so their embeddings
    are trained), combined at random so that no pair of names carries a relation."""
    rng = random.Random(f"pool-{kind}")
    names: list[str] = []
    while len(names) < 24:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(3))
        if name not in names and all(name not in _pool_cache.get(k, []) for k in _pool_cache):
            names.append(name)
    _pool_cache[kind] = names
    return names


_pool_cache: dict[str, list[str]] = {}


def _name(rng: random.Random, kind: str, used: set[str]) -> str:
    pool = _pool_cache.get(kind) or _pool(kind)
    name = rng.choice([n for n in pool if n not in used])
    used.add(name)
    return name


def make_document(rng: random.Random, title: str, people: int = 2, cities: int = 1, companies: int = 1) -> dict[str, Any]:
    """One document: entities, intro and filler sentences, stated and distractor pairs, shuffled."""
    used: set[str] = set()
    entities = [(kind, _name(rng, kind, used)) for kind, n in (("person", people), ("city", cities), ("company", companies)) for _ in range(n)]
    sentences: list[tuple[str, list[int], tuple[int, int, str] | None]] = []  # text, entity indices, stated fact
    for i, (kind, _n) in enumerate(entities):
        sentences.append((rng.choice(_INTRO[kind]), [i], None))
    facts = []
    for h, (hk, _hn) in enumerate(entities):
        for t, (tk, _tn) in enumerate(entities):
            rel = next((r for r, (_tpl, a, b) in _STATE.items() if (a, b) == (hk, tk)), None)
            if rel is None or h == t:
                continue
            roll = rng.random()
            if roll < 0.45:
                sentences.append((_STATE[rel][0], [h, t], (h, t, rel)))
                facts.append((h, t, rel))
                if rng.random() < 0.6:  # the pair also meets where nothing is stated: not evidence
                    sentences.append((_TOGETHER, [h, t], None))
            elif roll < 0.75:
                sentences.append((_DISTRACT[(hk, tk)], [h, t], None))
    sentences.extend((f, [], None) for f in rng.sample(_FILLER, 1))
    rng.shuffle(sentences)
    return _assemble(title, entities, sentences)


def _assemble(title: str, entities: list[tuple[str, str]], sentences: list[Any]) -> dict[str, Any]:
    sents: list[list[str]] = []
    vertex: list[list[dict[str, Any]]] = [[] for _ in entities]
    labels = []
    for s, (template, members, fact) in enumerate(sentences):
        names = {"e": entities[members[0]][1]} if len(members) == 1 else {}
        if len(members) == 2:
            names = {"h": entities[members[0]][1], "t": entities[members[1]][1]}
        tokens = template.format(**names).split()
        sents.append(tokens)
        for key, member in zip(("e",) if len(members) == 1 else ("h", "t"), members, strict=False):
            position = tokens.index(names[key])
            kind, name = entities[member]
            vertex[member].append({"name": name, "sent_id": s, "pos": [position, position + 1], "type": TYPES[kind]})
        if fact is not None:
            labels.append({"h": fact[0], "t": fact[1], "r": fact[2], "evidence": [s]})
    return {"title": title, "sents": sents, "vertexSet": vertex, "labels": labels}


def make_corpus(count: int, seed: int, prefix: str = "doc") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_document(rng, f"{prefix}{i}") for i in range(count)]


def write_corpus(directory: str | Path, train: int = 160, dev: int = 40, seed: int = 0) -> dict[str, Path]:
    """train.jsonl, dev.jsonl and rel2id.json under ``directory``."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    paths = {"train": root / "train.jsonl", "dev": root / "dev.jsonl", "relations": root / "rel2id.json"}
    for split, count, offset in (("train", train, 0), ("dev", dev, 1)):
        docs = make_corpus(count, seed * 10 + offset, prefix=split)
        paths[split].write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    paths["relations"].write_text(json.dumps(RELATIONS), encoding="utf-8")
    return paths


def encoder_vocabulary() -> list[str]:
    """Every word the synthetic documents can hold (corpus words, then the name pools, each
    sorted): the vocabulary of a tiny encoder for them (``llmkit tiny-model --arch deberta``
    builds one from the corpus files; the tests pass this list to ``llmkit.tiny_model``)."""
    words: set[str] = {"*", "."}
    for text in [_TOGETHER, *_FILLER, *(t for v in _INTRO.values() for t in v), *(v[0] for v in _STATE.values()), *_DISTRACT.values()]:
        words.update(w for w in text.split() if not w.startswith("{"))
    names = {name for kind in _INTRO for name in _pool_cache.get(kind) or _pool(kind)}
    return [*sorted(words), *sorted(names)]
