"""Option sets shared by many subcommands, declared once and injected into Typer commands.

An option set is a dataclass whose fields carry ``typer.Option`` metadata through
``Annotated``. :func:`option_set` turns it into a decorator: the command's signature gains the
set's options (so ``--help`` shows them), and the command receives one instance of the dataclass
in the parameter annotated with its class. A field whose type is itself an option set (with a
default factory) offers that set's options too, and receives its instance. Plugins therefore
never copy option declarations.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar, get_args, get_origin, get_type_hints

from llmkit.errors import UsageError

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def option_set(cls: type[T]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator factory: offer the fields of dataclass ``cls`` as options of a Typer command,
    which receives them as one ``cls`` instance in its parameter annotated ``cls`` (or a base
    class of it). Typer sees the options instead of the parameter; the command keeps its type,
    so mypy checks it and Python code may still call it with the set itself. A command with no
    such parameter, or two, is a ``TypeError`` when decorated."""
    options = _options_of(cls, "")

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)
        # Resolve the command's own annotations now: a module with `from __future__ import
        # annotations` leaves strings that Typer cannot evaluate outside that module.
        resolved = get_type_hints(func, include_extras=True)
        own = [p.replace(annotation=resolved.get(name, p.annotation)) for name, p in signature.parameters.items()]
        param = _parameter_for(cls, own, func)
        prefix = f"_{param}__"
        injected = [
            inspect.Parameter(prefix + option.name, inspect.Parameter.KEYWORD_ONLY, annotation=option.annotation,
                              default=option.default)
            for option in options
        ]
        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p.name != param]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not any(key.startswith(prefix) for key in kwargs):
                return func(*args, **kwargs)  # called from Python with the set itself, as typed
            values = {option.name: kwargs.pop(prefix + option.name) for option in options}
            kwargs[param] = _build(cls, values, "")
            return func(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=keyword_only + injected)  # type: ignore[attr-defined]
        return wrapper

    return decorate


@dataclasses.dataclass(frozen=True)
class _Option:
    """One option a set offers: its parameter name (``sub__field`` for a field of a nested
    set), its annotation with flags, and its default."""

    name: str
    annotation: Any
    default: Any


def _options_of(cls: type, path: str) -> list[_Option]:
    hints = get_type_hints(cls, include_extras=True)
    options: list[_Option] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.init:
            continue
        if _is_nested(hints[field.name]):
            options.extend(_options_of(hints[field.name], f"{path}{field.name}__"))
        else:
            options.append(_Option(path + field.name, _named(hints[field.name], field.name), _default(field)))
    return options


def _is_nested(annotation: Any) -> bool:
    """A field whose type is an option set of its own (a dataclass, not an option's value)."""
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def _build(cls: type[T], values: dict[str, Any], path: str) -> T:
    """The instance of ``cls`` (and of its nested sets) from the values of its options."""
    hints = get_type_hints(cls, include_extras=True)
    kwargs = {
        field.name: _build(hints[field.name], values, f"{path}{field.name}__")
        if _is_nested(hints[field.name]) else values[path + field.name]
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.init
    }
    return cls(**kwargs)


def _parameter_for(cls: type, params: list[inspect.Parameter], func: Callable[..., Any]) -> str:
    """The name of the command's parameter that receives the set: annotated ``cls``, else a
    base class of it (a command written for ``IOOptions`` also takes ``WholeInputOptions``)."""
    exact = [p.name for p in params if p.annotation is cls]
    based = [p.name for p in params if _is_nested(p.annotation) and p.annotation is not cls and issubclass(cls, p.annotation)]
    found = exact or based
    if len(found) != 1:
        what = "no parameter" if not found else f"{len(found)} parameters ({', '.join(found)})"
        raise TypeError(f"option set {cls.__name__}: {func.__qualname__} has {what} annotated {cls.__name__}; it needs one")
    return found[0]


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


def backend_options(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: add the shared backend options (``--model``, ``--backend``, sampling, ...) to a
    Typer command, which receives them in its parameter annotated ``BackendOptions``."""
    from llmkit.backends.options import BackendOptions

    return option_set(BackendOptions)(func)


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
