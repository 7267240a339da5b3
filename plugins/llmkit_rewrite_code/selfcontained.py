"""Names a program reads but never binds, imports or gets from builtins (libcst scope analysis)."""

from __future__ import annotations

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
    names: set[str] = set()
    for scope in set(wrapper.resolve(ScopeProvider).values()):
        if scope is None:
            continue
        for access in scope.accesses:
            name = access.node.value if isinstance(access.node, cst.Name) else None
            if name and not access.referents and name not in MODULE_GLOBALS:
                names.add(name)
    return sorted(names)
