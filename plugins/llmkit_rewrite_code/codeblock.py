"""Fenced code blocks in a model's answer, and the choice of the one that holds the program.

A block opens with a line of three or more backticks (indented by at most three spaces),
optionally followed by a language tag, and closes with a line of at least as many backticks
and nothing else. A block left open at the end of the answer (an answer cut off by the token
limit) is not a block: its code is incomplete.

Choice (:func:`pick_program`): among the closed blocks tagged ``python``/``py``/``python3``
(any case) the LAST one; when none is tagged Python, the last untagged block; blocks tagged
with another language (``bash``, ``text`` ...) never count. The prompts ask for the finished
program in one block at the end; a model that writes two blocks almost always quotes the input
or a fragment first and gives its final version last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^ {0,3}(`{3,})[ \t]*([^`\s]*)[^`]*$")
_CLOSE = re.compile(r"^ {0,3}(`{3,})[ \t]*$")
PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})


@dataclass(frozen=True, slots=True)
class CodeBlock:
    language: str  # lower-cased tag, "" when untagged
    code: str


@dataclass(frozen=True, slots=True)
class Blocks:
    closed: list[CodeBlock]
    unclosed: bool  # the answer ends inside a block


def find_code_blocks(text: str) -> Blocks:
    blocks: list[CodeBlock] = []
    fence: str | None = None
    language = ""
    body: list[str] = []
    for line in text.splitlines():
        if fence is None:
            opened = _OPEN.match(line)
            if opened:
                fence, language, body = opened.group(1), opened.group(2).lower(), []
            continue
        closed = _CLOSE.match(line)
        if closed and len(closed.group(1)) >= len(fence):
            blocks.append(CodeBlock(language, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    return Blocks(blocks, unclosed=fence is not None)


def pick_program(text: str) -> CodeBlock | None:
    """The block holding the program (see the module docstring), or None."""
    blocks = find_code_blocks(text).closed
    tagged = [block for block in blocks if block.language in PYTHON_TAGS]
    untagged = [block for block in blocks if not block.language]
    candidates = tagged or untagged
    return candidates[-1] if candidates else None
