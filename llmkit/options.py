"""Option sets shared by many subcommands, declared once and injected into Typer commands.

An option set is a dataclass whose fields carry ``typer.Option`` metadata through
``Annotated``. :func:`option_set` turns it into a decorator: the command's signature gains the
set's options (so ``--help`` shows them), and the command receives one instance of the dataclass
under the parameter name given. Plugins therefore never copy option declarations.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from llmkit.errors import UsageError

T = TypeVar("T")


def option_set(cls: type[T], param: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator factory: inject the fields of dataclass ``cls`` as options, pass ``param=cls(...)``."""
    hints = get_type_hints(cls, include_extras=True)
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    prefix = f"_{param}__"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        # Resolve the command's own annotations now: a module with `from __future__ import
        # annotations` leaves strings that Typer cannot evaluate outside that module.
        resolved = get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=resolved.get(name, p.annotation))
            for name, p in signature.parameters.items()
            if name != param
        ]
        injected = [
            inspect.Parameter(
                prefix + f.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_named(hints[f.name], f.name),
                default=_default(f),
            )
            for f in fields
        ]
        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            values = {f.name: kwargs.pop(prefix + f.name) for f in fields}
            kwargs[param] = cls(**values)
            return func(**kwargs)

        wrapper.__signature__ = signature.replace(parameters=keyword_only + injected)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _default(field: dataclasses.Field[Any]) -> Any:
    """A field's default value (its factory called, for a mutable default)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    factory: Any = field.default_factory  # MISSING only for a field without default, which Typer requires
    return factory() if callable(factory) else ...


def _named(annotation: Any, name: str) -> Any:
    """Give an option without explicit flags the flag ``--field-name`` (``--field-name/--no-field-name``
    for a bool; not the prefixed parameter name the injection uses internally). Under ``Annotated``, ``typer.Option("--a/--b")``
    keeps its flags in ``default`` until Typer moves them: such an option has its flags already."""
    import copy

    import typer.models

    if get_origin(annotation) is not Annotated:
        return annotation
    base, *extras = get_args(annotation)
    named = []
    for extra in extras:
        flagged = isinstance(getattr(extra, "default", None), str) and extra.default.startswith("-")
        if isinstance(extra, typer.models.OptionInfo) and not extra.param_decls and not flagged:
            extra = copy.copy(extra)
            flag = f"--{name.replace('_', '-')}"
            # a bool gets its off switch too, as Typer gives a bool parameter of a command
            extra.param_decls = (f"{flag}/--no-{flag[2:]}",) if base is bool else (flag,)
        named.append(extra)
    return Annotated[(base, *named)]  # type: ignore[return-value]


def backend_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: add the shared backend options (``--model``, ``--backend``, sampling, ...) to a
    Typer command, which receives them as ``backend_options: BackendOptions``."""
    from llmkit.backends.options import BackendOptions

    return option_set(BackendOptions, "backend_options")(func)


def require_finite_floats(command: Any) -> None:
    """Make every command in ``command``'s tree refuse a number option given NaN or an infinity.

    click reads ``nan``, ``inf`` and ``1e999`` as floats, and a range check does not catch them
    all (NaN compares false with everything: ``--lint-threshold nan`` turned a filter off). A
    number option means a finite number, so the check is made here, once, for every option of
    every subcommand: on the values the command line gives, before the command runs (exit 2).
    """
    for sub in (getattr(command, "commands", None) or {}).values():
        require_finite_floats(sub)
    callback = getattr(command, "callback", None)
    if callback is None or getattr(callback, "finite_floats_checked", False):
        return
    flags = {param.name: (param.opts or [param.name])[0] for param in command.params}

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if not _finite(value):
                raise UsageError(f"{flags.get(name, name)} {_shown(value)}: not a finite number")
        return callback(*args, **kwargs)

    checked.finite_floats_checked = True  # type: ignore[attr-defined]
    command.callback = checked


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(map(_finite, value))
    return True


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
