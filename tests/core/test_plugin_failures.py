"""A plugin that ends the process or raises a BaseException at import is listed as failed."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import orjson
import pytest

from llmkit import plugins as plugin_registry


def discover(monkeypatch, *entries: EntryPoint) -> dict[str, plugin_registry.PluginInfo]:
    wanted = plugin_registry.PLUGIN_GROUP
    monkeypatch.setattr(plugin_registry, "entry_points", lambda group: list(entries) if group == wanted else [])
    return {p.name: p for p in plugin_registry.discover_plugins()}


def test_sys_exit_and_base_exceptions_at_import_do_not_end_the_cli(monkeypatch, capfdbinary):
    group = plugin_registry.PLUGIN_GROUP
    found = discover(
        monkeypatch,
        EntryPoint("demo", "tests.core.demo_plugin:app", group),
        EntryPoint("exits", "tests.core.exiting_plugin:app", group),
        EntryPoint("aborts", "tests.core.base_exception_plugin:app", group),
    )
    assert found["demo"].ok
    assert not found["exits"].ok and "SystemExit" in found["exits"].error and "refuses to load" in found["exits"].error
    assert not found["aborts"].ok and found["aborts"].error == "PluginAbort: base exception at import"

    from llmkit.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["plugins", "--json"], plugins=list(found.values()))
    assert stop.value.code == 0
    rows = {r["name"]: r for r in map(orjson.loads, capfdbinary.readouterr().out.splitlines())}
    assert rows["exits"]["status"] == rows["aborts"]["status"] == "failed" and rows["demo"]["status"] == "ok"
    with pytest.raises(SystemExit) as stop:
        main(["exits"], plugins=list(found.values()))
    assert stop.value.code == 70 and b"failed to load" in capfdbinary.readouterr().err


def test_ctrl_c_during_discovery_still_interrupts(monkeypatch):
    class Interrupting(EntryPoint):
        def load(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        discover(monkeypatch, Interrupting("slow", "x:y", plugin_registry.PLUGIN_GROUP))

