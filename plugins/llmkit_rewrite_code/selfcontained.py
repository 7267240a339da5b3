"""Names a program reads but never binds, imports or gets from builtins (libcst scope analysis)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Names every module has without binding them.
MODULE_GLOBALS = frozenset({"__file__", "__name__", "__doc__", "__builtins__", "__spec__", "__loader__",
                            "__package__", "__annotations__", "__cached__", "__path__", "__dict__"})


def unresolved_names(code: str) -> list[str] | None:
    """Sorted names with a read access that no assignment, import, definition, parameter or
    builtin resolves, in the scope or any enclosing one; None when libcst cannot parse the code.

    Names a ``from m import *`` may bring in cannot be known statically and are listed.
    """
    import libcst as cst
    from libcst.metadata import MetadataWrapper, ScopeProvider

    try:
        wrapper = MetadataWrapper(cst.parse_module(code))
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    scopes = wrapper.resolve(ScopeProvider)
    captured = _match_captures(scopes)
    names: set[str] = set()
    for scope in set(scopes.values()):
        if scope is None:
            continue
        for access in scope.accesses:
            name = access.node.value if isinstance(access.node, cst.Name) else None
            if name and not access.referents and name not in MODULE_GLOBALS and not _captured(name, scope, captured):
                names.add(name)
    return sorted(names)


def _match_captures(scopes: Mapping[Any, Any]) -> dict[Any, set[str]]:
    """Names bound by ``case`` patterns, by scope. libcst's scope analysis does not see these
    bindings (``case (a, b): return a + b`` would list a and b), so they are collected here."""
    import libcst as cst

    captured: dict[Any, set[str]] = {}
    for node, scope in scopes.items():
        if isinstance(node, (cst.MatchAs, cst.MatchStar)) and node.name is not None:
            name = node.name
        elif isinstance(node, cst.MatchMapping) and node.rest is not None:
            name = node.rest
        else:
            continue
        captured.setdefault(scope, set()).add(name.value)
    return captured


def _captured(name: str, scope: Any, captured: dict[Any, set[str]]) -> bool:
    """Whether a case pattern binds ``name`` in ``scope`` or a scope around it."""
    seen = set()
    while scope is not None and id(scope) not in seen:  # the global scope is its own parent
        if name in captured.get(scope, ()):
            return True
        seen.add(id(scope))
        scope = scope.parent
    return False
