"""The marker protocol of `docre transfer`: numbered tags around mentions, and their recovery.

A unit of text sent for translation (a sentence, or a whole document) carries every mention
wrapped in ``<mN>...</mN>``, N numbering the unit's mentions from 1. In a whole document each
sentence is wrapped too, ``<sK>...</sK>`` (K from 1), so its sentence ids survive. Tags pair by
number, not by nesting, so nested, adjacent, identical and even crossing spans are all
expressible. The answer is accepted only when every expected tag is there exactly once, opens
before it closes, and nothing tag-like is left over: a mention is never placed by guessing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

#: a well-formed tag: <m3>, </m3>, <s1>, </s1>
TAG = re.compile(r"<(/?)([ms])(\d+)>")
#: what is left of a tag a model mangled: case, spaces, a self-closing slash, a lost number or bracket
BROKEN_TAG = re.compile(r"<\s*/?\s*[msMS]\s*\d*\s*/?\s*>|</?\s*[msMS]\s*\d+|\b[mMsS]\d+\s*>|<\s*/\s*>")

#: no space is put before these tokens when a source sentence is joined with spaces
_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "'s", "n't", "'"}
_NO_SPACE_AFTER = {"(", "[", "{", "$"}


@dataclass(frozen=True, slots=True)
class Span:
    """A mention of a unit: its marker number and its token span ``[start, end)`` in a sentence."""

    number: int
    sentence: int  # 0-based sentence of the document
    start: int
    end: int


def join_tokens(tokens: Sequence[str], spaced: bool) -> list[str]:
    """The text pieces of a sentence (each token with the space before it), so tags can be
    inserted between tokens. ``spaced`` for space-separated languages; Japanese and Chinese
    tokens are written side by side."""
    pieces = []
    for index, token in enumerate(tokens):
        gap = ""
        if spaced and index > 0 and token not in _NO_SPACE_BEFORE and tokens[index - 1] not in _NO_SPACE_AFTER:
            gap = " "
        pieces.append(gap + token)
    return pieces


def mark_sentence(tokens: Sequence[str], spans: Sequence[Span], spaced: bool) -> str:
    """The sentence's text with ``<mN>``/``</mN>`` around each span.

    At one position closing tags come before opening ones (adjacent mentions), an outer span
    opens before an inner one and closes after it (nested and identical spans)."""
    pieces = join_tokens(tokens, spaced)
    opens: dict[int, list[Span]] = {}
    closes: dict[int, list[Span]] = {}
    for span in spans:
        opens.setdefault(span.start, []).append(span)
        closes.setdefault(span.end, []).append(span)
    out = []
    for position in range(len(tokens) + 1):
        # inner spans (those opened later, or shorter) close first
        for span in sorted(closes.get(position, []), key=lambda s: (-s.start, -s.number)):
            out.append(f"</m{span.number}>")
        piece = pieces[position] if position < len(tokens) else ""
        gap, word = (" ", piece[1:]) if piece.startswith(" ") else ("", piece)
        out.append(gap)
        # outer spans (longer ones) open first; identical spans in number order
        for span in sorted(opens.get(position, []), key=lambda s: (-s.end, s.number)):
            out.append(f"<m{span.number}>")
        out.append(word)
    return "".join(out)


@dataclass
class MarkedText:
    """An answer with its tags taken out: the plain text of each sentence and, per mention
    number, its sentence (1-based tag number, 0 in a sentence unit) and character span."""

    sentences: dict[int, str]
    mentions: dict[int, tuple[int, int, int]]  # number -> (sentence tag, start, end)
    stray: int = 0  # non-blank characters outside every sentence tag (document units)


@dataclass
class Problems:
    """What is wrong with an answer's tags, by kind, each with the tag it concerns."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    #: whole-answer problems, found by the caller: cut by the token limit, or nothing written
    truncated: list[str] = field(default_factory=list)
    blank: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def counts(self) -> Counter[str]:
        return Counter({k: len(v) for k, v in vars(self).items() if v})

    def numbers(self) -> set[int]:
        """Mention numbers named in the problems (a broken tag with no number names none)."""
        found = set()
        for text in self.lost + self.duplicated + self.malformed + self.empty:
            match = re.fullmatch(r"<m(\d+)>.*", text)
            if match:
                found.add(int(match.group(1)))
        return found

    def describe(self) -> str:
        parts = [f"{kind}: {', '.join(items)}" for kind, items in vars(self).items() if items]
        return "; ".join(parts)


def parse_marked(
    answer: str, mentions: Sequence[int], sentences: int = 0, homes: dict[int, int] | None = None
) -> MarkedText | Problems:
    """Recover the spans of ``mentions`` (marker numbers) from a translated ``answer``.

    ``sentences`` is the number of ``<sK>`` tags expected (0 for a sentence unit, whose whole
    answer is one sentence); ``homes`` the sentence tag each mention was sent in, where it must
    stay (sentence ids, and so evidence, are kept). Returns the recovered text, or every problem."""
    problems = Problems()
    tags = list(TAG.finditer(answer))
    _check_counts(tags, mentions, sentences, problems)
    leftover = TAG.sub("", answer)
    for broken in BROKEN_TAG.finditer(leftover):
        problems.malformed.append(repr(broken.group(0)))
    if problems:
        return problems
    return _recover(answer, tags, mentions, sentences, homes or {}, problems)


def _check_counts(tags: list[re.Match[str]], mentions: Sequence[int], sentences: int, problems: Problems) -> None:
    seen: Counter[tuple[str, str, int]] = Counter((m.group(1), m.group(2), int(m.group(3))) for m in tags)
    expected = {("m", n) for n in mentions} | {("s", k) for k in range(1, sentences + 1)}
    for kind, number in sorted(expected, key=lambda e: (e[0] != "m", e[1])):
        name = f"<{kind}{number}>"
        opened, closed = seen[("", kind, number)], seen[("/", kind, number)]
        if opened == 0 or closed == 0:
            problems.lost.append(name + _which(opened, closed))
        elif opened > 1 or closed > 1:
            problems.duplicated.append(f"{name} ({opened} opening, {closed} closing)")
    for slash, kind, number in seen:
        if (kind, number) not in expected:
            problems.malformed.append(f"<{slash}{kind}{number}> (no such marker was sent)")


def _which(opened: int, closed: int) -> str:
    if opened == 0 and closed == 0:
        return ""
    return " (opening tag missing)" if opened == 0 else " (closing tag missing)"


def _recover(
    answer: str, tags: list[re.Match[str]], mentions: Sequence[int], sentences: int, homes: dict[int, int], problems: Problems
) -> MarkedText | Problems:
    """Walk the answer once, keeping the text outside tags and where each tag fell in it; every
    problem of the answer is reported, so that a retry prompt can name them all."""
    plain: list[str] = []
    where: dict[tuple[str, str, int], int] = {}
    cursor = length = 0
    for tag in tags:
        chunk = answer[cursor:tag.start()]
        plain.append(chunk)
        length += len(chunk)
        where[(tag.group(1), tag.group(2), int(tag.group(3)))] = length
        cursor = tag.end()
    plain.append(answer[cursor:])
    text = "".join(plain)
    if sentences:
        bounds = {k: (where[("", "s", k)], where[("/", "s", k)]) for k in range(1, sentences + 1)}
        for k, (lo, hi) in bounds.items():
            if lo > hi:
                problems.malformed.append(f"<s{k}> (closes before it opens)")
    else:
        bounds = {0: (0, len(text))}
    spans: dict[int, tuple[int, int, int]] = {}
    for number in mentions:
        start, end = where[("", "m", number)], where[("/", "m", number)]
        home = [k for k, (lo, hi) in bounds.items() if lo <= start <= end <= hi]
        if start > end:
            problems.malformed.append(f"<m{number}> (closes before it opens)")
        elif not home:
            problems.malformed.append(f"<m{number}> (not inside one sentence)")
        elif number in homes and homes[number] not in home:
            problems.malformed.append(f"<m{number}> (moved from <s{homes[number]}> to <s{home[0]}>)")
        else:
            start, end = _strip(text, start, end)
            if start == end:
                problems.empty.append(f"<m{number}> (marks no text)")
            else:
                lo = bounds[home[0]][0]
                spans[number] = (home[0], start - lo, end - lo)
    if problems:
        return problems
    texts = {k: text[lo:hi] for k, (lo, hi) in bounds.items()}
    stray = _visible(text) - sum(_visible(t) for t in texts.values())
    return MarkedText(texts, spans, stray)


def _visible(text: str) -> int:
    return len("".join(text.split()))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the blanks a model left just inside the tags."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
