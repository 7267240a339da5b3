"""Hand-made documents and a scripted translator for the transfer tests."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from llmkit.testing import ScriptedBackend

#: the line the shipped prompts put just before the text to translate
TEXT_START = "with no notes or explanations.\n\n"


def source_text(prompt: Any) -> str:
    """The marked text a transfer prompt asks to translate (the prompt may be a chat)."""
    content = prompt[-1]["content"] if isinstance(prompt, list) else prompt
    return content.split(TEXT_START, 1)[1].rstrip("\n")


def translator(table: dict[str, str] | Callable[[str], str]) -> ScriptedBackend:
    """A backend answering each prompt with ``table[text]`` (or ``table(text)``); an unknown text
    is answered with itself, tags and all."""
    def answer(prompt: Any) -> str:
        text = source_text(prompt)
        if callable(table):
            return table(text)
        return table.get(text, text)

    return ScriptedBackend(answer)


def capital_doc() -> dict[str, Any]:
    """Two sentences: nested mentions (Tokyo inside Tokyo Metropolis), adjacent mentions, a
    mention repeated in one sentence, labels with evidence."""
    return {
        "title": "Tokyo",
        "sents": [
            ["Tokyo", "Metropolis", "is", "the", "capital", "of", "Japan", "."],
            ["Japan", "Japan", "Airlines", "flies", "from", "Tokyo", "and", "Tokyo", "again", "."],
        ],
        "vertexSet": [
            [{"name": "Tokyo Metropolis", "sent_id": 0, "pos": [0, 2], "type": "LOC"}],
            [{"name": "Tokyo", "sent_id": 0, "pos": [0, 1], "type": "LOC"},
             {"name": "Tokyo", "sent_id": 1, "pos": [5, 6], "type": "LOC"},
             {"name": "Tokyo", "sent_id": 1, "pos": [7, 8], "type": "LOC"}],
            [{"name": "Japan", "sent_id": 0, "pos": [6, 7], "type": "LOC"},
             {"name": "Japan", "sent_id": 1, "pos": [0, 1], "type": "LOC"}],
            [{"name": "Japan Airlines", "sent_id": 1, "pos": [1, 3], "type": "ORG", "global_pos": [9, 9]}],
        ],
        "labels": [
            {"h": 0, "t": 2, "r": "P1376", "evidence": [0]},
            {"h": 3, "t": 2, "r": "P17", "evidence": [0, 1]},
        ],
        "id": "doc-1",
    }


#: what a translator into Japanese answers for capital_doc, keyed by the marked source
CAPITAL_JA = {
    "<m1><m2>Tokyo</m2> Metropolis</m1> is the capital of <m3>Japan</m3>.":
        "<m1><m2>東京</m2>都</m1>は<m3>日本</m3>の首都である。",
    "<m1>Japan</m1> <m2>Japan Airlines</m2> flies from <m3>Tokyo</m3> and <m4>Tokyo</m4> again.":
        "<m1>日本</m1>の<m2>日本航空</m2>は<m3>東京</m3>から、また<m4>東京</m4>から飛ぶ。",
    "Tokyo": "東京",
}

CAPITAL_ZH = {
    "<m1><m2>Tokyo</m2> Metropolis</m1> is the capital of <m3>Japan</m3>.":
        "<m1><m2>东京</m2>都</m1>是<m3>日本</m3>的首都。",
    "<m1>Japan</m1> <m2>Japan Airlines</m2> flies from <m3>Tokyo</m3> and <m4>Tokyo</m4> again.":
        "<m1>日本</m1><m2>日本航空</m2>从<m3>东京</m3>起飞，又从<m4>东京</m4>起飞。",
    "Tokyo": "东京",
}


def drop_tag(text: str, tag: str) -> str:
    """The text with one tag taken out (a 'lost marker' answer)."""
    return text.replace(tag, "", 1)


def without_field(record: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(record)
    out.pop(name, None)
    return out


def strip_tags(text: str) -> str:
    return re.sub(r"</?[ms]\d+>", "", text)
