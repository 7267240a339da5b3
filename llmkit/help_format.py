"""How ``--help`` renders options: a flag shows no value placeholder.

Typer's rich help (0.29) prints the value type of every option, flags included, so ``--quiet``
read ``--quiet -q <bool>`` as if it took a value. Its plain help already leaves flags bare; the
rich one is taught the same rule here, once, when the command tree is built.
"""

from __future__ import annotations

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
