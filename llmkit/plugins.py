"""Plugin discovery: the only place in llmkit that reads entry points.

Two groups: ``llmkit.plugins`` (subcommands: a Typer app or a plain command function) and
``llmkit.backends`` (Backend classes). Nothing is discovered at import time; callers ask.
``LLMKIT_PLUGINS`` (comma-separated names) restricts which subcommands load, for repeatable runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

PLUGIN_GROUP = "llmkit.plugins"
BACKEND_GROUP = "llmkit.backends"


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str
    description: str
    obj: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _version(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "?"


def _describe(obj: Any) -> str:
    info = getattr(obj, "info", None)  # a typer.Typer keeps its help here
    text = getattr(info, "help", None) or getattr(obj, "__doc__", None) or ""
    return text.strip().splitlines()[0] if text.strip() else ""


def _allowed() -> set[str] | None:
    raw = os.environ.get("LLMKIT_PLUGINS")
    return {n.strip() for n in raw.split(",") if n.strip()} if raw else None


def discover_plugins() -> list[PluginInfo]:
    """Load every subcommand plugin; one that fails to import is listed with its error."""
    allowed = _allowed()
    found: list[PluginInfo] = []
    seen: set[str] = set()
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name in seen or (allowed is not None and ep.name not in allowed):
            continue
        seen.add(ep.name)
        info = PluginInfo(ep.name, ep.value.split(":")[0], _version(ep), "")
        try:
            info.obj = ep.load()
            info.description = _describe(info.obj)
        except KeyboardInterrupt:
            raise  # the user's Ctrl-C, not the plugin's failure
        except BaseException as exc:  # noqa: BLE001 - a plugin's sys.exit() at import must not end the CLI
            info.obj = None
            info.error = _failure(exc)
        found.append(info)
    return found


def _failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"{name}: the plugin called sys.exit({'' if exc.code is None else repr(exc.code)}) when imported"
    return f"{name}: {exc}" if str(exc) else name


def backend_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=BACKEND_GROUP)})


def load_backend_class(name: str) -> type:
    """The Backend class registered under ``name``."""
    from llmkit.errors import BackendUnavailable, UsageError

    matches = [ep for ep in entry_points(group=BACKEND_GROUP) if ep.name == name]
    if not matches:
        raise UsageError(f"unknown backend {name!r}; installed backends: {', '.join(backend_names()) or 'none'}")
    try:
        return matches[0].load()
    except ImportError as exc:
        raise BackendUnavailable(f"backend {name!r} cannot be loaded: {exc}") from exc
