"""The marker protocol: tags in, spans out; every way an answer can get the tags wrong."""

from __future__ import annotations

import pytest
from llmkit_docre.markers import MarkedText, Problems, Span, mark_sentence, parse_marked


def test_nested_adjacent_and_identical_spans_are_marked_and_recovered():
    tokens = ["New", "York", "City", "Hall", "is", "in", "New", "York", "."]
    spans = [Span(1, 0, 0, 4), Span(2, 0, 0, 3), Span(3, 0, 0, 2), Span(4, 0, 6, 8), Span(5, 0, 6, 8)]
    text = mark_sentence(tokens, spans, spaced=True)
    assert text == "<m1><m2><m3>New York</m3> City</m2> Hall</m1> is in <m4><m5>New York</m5></m4>."
    parsed = parse_marked(text, [1, 2, 3, 4, 5])
    assert isinstance(parsed, MarkedText)
    plain = parsed.sentences[0]
    assert plain == "New York City Hall is in New York."
    assert {n: plain[s:e] for n, (_k, s, e) in parsed.mentions.items()} == {
        1: "New York City Hall", 2: "New York City", 3: "New York", 4: "New York", 5: "New York",
    }


def test_adjacent_spans_close_before_the_next_opens():
    text = mark_sentence(["東京", "大阪"], [Span(1, 0, 0, 1), Span(2, 0, 1, 2)], spaced=False)
    assert text == "<m1>東京</m1><m2>大阪</m2>"


def test_crossing_spans_pair_by_number():
    parsed = parse_marked("<m1>a <m2>b</m1> c</m2>", [1, 2])
    assert isinstance(parsed, MarkedText)
    assert parsed.sentences[0] == "a b c"
    assert parsed.mentions == {1: (0, 0, 3), 2: (0, 2, 5)}


def test_blanks_inside_tags_are_not_part_of_the_mention():
    parsed = parse_marked("x <m1> 東京 </m1>y", [1])
    assert isinstance(parsed, MarkedText)
    _k, start, end = parsed.mentions[1]
    assert parsed.sentences[0][start:end] == "東京"


@pytest.mark.parametrize(
    ("answer", "kind", "names"),
    [
        ("<m1>a</m1> b", "lost", "<m2>"),  # a whole mention gone
        ("<m1>a</m1> <m2>b", "lost", "<m2> (closing tag missing)"),
        ("<m1>a</m1> <m2>b</m2> <m2>b</m2>", "duplicated", "<m2> (2 opening, 2 closing)"),
        ("<m1>a</m1> <m2>b</m2> <m3>c</m3>", "malformed", "<m3> (no such marker was sent)"),
        ("<m1>a</m1> <M2>b</m2>", "malformed", "'<M2>'"),
        ("<m1>a</m1> <m 2>b</m2>", "malformed", "'<m 2>'"),
        ("<m1>a</m1> </m2>b<m2>", "malformed", "<m2> (closes before it opens)"),
        ("<m1>a</m1> <m2> </m2>", "empty", "<m2> (marks no text)"),
    ],
)
def test_every_wrong_answer_is_a_problem_never_a_span(answer, kind, names):
    parsed = parse_marked(answer, [1, 2])
    assert isinstance(parsed, Problems)
    assert names in getattr(parsed, kind), parsed


def test_a_broken_tag_is_reported_with_the_lost_one():
    parsed = parse_marked("<m1>a</m1> m2>b</m2>", [1, 2])
    assert isinstance(parsed, Problems)
    assert parsed.lost == ["<m2> (opening tag missing)"]
    assert parsed.malformed == ["'m2>'"]
    assert parsed.numbers() == {2}


def test_document_units_keep_mentions_in_their_sentence():
    ok = parse_marked("<s1><m1>A</m1> x.</s1>\n<s2>y <m2>B</m2>.</s2>", [1, 2], sentences=2, homes={1: 1, 2: 2})
    assert isinstance(ok, MarkedText)
    assert ok.sentences == {1: "A x.", 2: "y B."}
    assert ok.mentions == {1: (1, 0, 1), 2: (2, 2, 3)}
    moved = parse_marked("<s1><m1>A</m1> <m2>B</m2>.</s1>\n<s2>y.</s2>", [1, 2], sentences=2, homes={1: 1, 2: 2})
    assert isinstance(moved, Problems)
    assert moved.malformed == ["<m2> (moved from <s2> to <s1>)"]
    lost = parse_marked("<s1><m1>A</m1>.</s1> <m2>B</m2>", [1, 2], sentences=2, homes={1: 1, 2: 2})
    assert isinstance(lost, Problems)
    assert lost.lost == ["<s2>"]


def test_text_outside_sentence_tags_is_counted_as_stray():
    parsed = parse_marked("Here you go: <s1><m1>A</m1>.</s1>", [1], sentences=1, homes={1: 1})
    assert isinstance(parsed, MarkedText)
    assert parsed.stray == len("Hereyougo:")
