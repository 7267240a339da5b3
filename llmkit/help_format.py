"""How ``--help`` is shaped: a flag shows no value placeholder, and prose fills the terminal.

Typer's rich help (0.29) prints the value type of every option, flags included, so ``--quiet``
read ``--quiet -q <bool>`` as if it took a value. Its plain help already leaves flags bare; the
rich one is taught the same rule here, once, when the command tree is built.

In the "rich" markup mode (the app's) Typer keeps a docstring's line breaks after its first
paragraph, and in a group's list of commands even in the first: a paragraph wrapped at 100
columns in the source showed as ragged lines on a narrower terminal and as a narrow column on a
wider one. :func:`reflow_help` joins the lines of each paragraph, so rich wraps it to the width
it draws at. Lines that are laid out on purpose keep their breaks: list items (``-``, ``*``,
``+``, ``•``, ``1.``, ``1)``), indented lines, and a paragraph that starts with click's ``\b``
(no rewrapping); what follows ``\f`` (hidden from help) is left as it is.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

_PATCHED = "_llmkit_flags_bare"


def hide_flag_placeholders() -> None:
    """Make the rich help show nothing in the type column of a flag (``--x``, ``--x/--no-x``, a count)."""
    from typer.core import TyperOption

    if getattr(TyperOption, _PATCHED, False):
        return
    placeholder = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return placeholder(self, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010 (a method, assigned once)
    setattr(TyperOption, _PATCHED, True)


#: A line that starts a list item: a bullet, or a number with ``.`` or ``)``, then a space.
_LIST_ITEM = re.compile(r"(?:[-*+•]|\d+[.)])\s")


def reflow_help(command: Any) -> None:
    """Join the lines of each prose paragraph in the help of ``command`` and every command below it."""
    if command.help:
        command.help = reflow(command.help)
    for sub in (getattr(command, "commands", None) or {}).values():
        reflow_help(sub)


def reflow(text: str) -> str:
    """``text`` (a docstring) with each paragraph's prose on one line (see the module docstring)."""
    shown, hidden_mark, hidden = text.partition("\f")
    paragraphs = inspect.cleandoc(shown).split("\n\n")
    before_mark = shown[len(shown.rstrip()) :] if hidden_mark else ""  # keeps "\f" on a line of its own
    return "\n\n".join(_reflow_paragraph(p) for p in paragraphs) + before_mark + hidden_mark + hidden


def _reflow_paragraph(paragraph: str) -> str:
    if paragraph.startswith("\b"):
        return paragraph
    lines: list[str] = []
    for line in paragraph.split("\n"):
        if lines and _is_prose(line) and _is_prose(lines[-1]):
            lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
        else:
            lines.append(line)
    return "\n".join(lines)


def _is_prose(line: str) -> bool:
    """Whether a line may be joined to its neighbour: not blank, not indented, not a list item."""
    return bool(line.strip()) and not line[0].isspace() and not _LIST_ITEM.match(line)
