"""Prompt templates: package data files with named placeholders, replaceable by the user.

A template is plain text with ``{name}`` placeholders (``{{`` and ``}}`` for literal braces), as
in :meth:`str.format`. Plugins ship theirs under ``<package>/prompts/NAME.txt``; a user passes
their own file with the plugin's ``--...-prompt`` option.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from llmkit.errors import UsageError
from llmkit.report import note_prompt


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    origin: str

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}

    def render(self, **values: str) -> str:
        return self.text.format(**values)


def load_prompt(package: str, name: str, override: str | Path | None = None, *, required: set[str] | frozenset[str] = frozenset()) -> PromptTemplate:
    """The template ``name`` shipped with ``package``, or the user's file ``override``.

    Checks that the template uses every placeholder in ``required`` and no unknown one, so a
    typo in a user's prompt fails before the first model call, not in the middle of a run.
    """
    if override is not None:
        path = Path(override)
        try:
            text, origin = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise UsageError(f"cannot read prompt file {path}: {exc.strerror or exc}") from exc
    else:
        text = files(package).joinpath(f"prompts/{name}.txt").read_text(encoding="utf-8")
        origin = f"{package}/prompts/{name}.txt"
    template = PromptTemplate(text, origin)
    try:
        found = template.placeholders
    except ValueError as exc:
        raise UsageError(f"prompt {origin}: {exc} (write literal braces as {{{{ and }}}})") from exc
    missing, unknown = required - found, found - required
    if missing or unknown:
        raise UsageError(
            f"prompt {origin}: needs placeholders {sorted(required)}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    note_prompt(origin, text)  # the run's report names each prompt read, with its hash
    return template
