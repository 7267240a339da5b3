"""The command tree: plugin discovery, failing plugins, --version, no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint

import orjson
import pytest

from llmkit import plugins as plugin_registry

HEAVY = ("torch", "transformers", "vllm", "sklearn", "scipy", "matplotlib", "pylint", "libcst", "datasets", "pyarrow")

FIRST_PARTY = {"ability-pca", "contrastive-gen", "mia", "rewrite-code", "rewrite-math", "utf8-eval"}


def run_llmkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, timeout=120)


def test_help_and_plugins_import_no_heavy_library():
    code = (
        "import sys\n"
        "from llmkit.cli import build_app\n"
        "app = build_app()\n"
        "def walk(cmd):\n"
        "    for sub in getattr(cmd, 'commands', {}).values():\n"
        "        walk(sub)\n"
        "walk(app)\n"
        "from llmkit.plugins import discover_plugins\n"
        "assert all(p.ok for p in discover_plugins()), [p.error for p in discover_plugins()]\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    for args in (["--help"], ["plugins"]):
        probe = f"import sys, runpy\nsys.argv = ['llmkit', *{args!r}]\n" \
                "try:\n    runpy.run_module('llmkit', run_name='__main__')\nexcept SystemExit:\n    pass\n" \
                f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        assert "HEAVY []" in out.stderr, out.stderr


def test_version():
    result = run_llmkit("--version")
    assert result.returncode == 0
    import llmkit

    assert result.stdout.decode().strip() == f"llmkit {llmkit.__version__}"


def test_plugins_lists_every_first_party_plugin_with_metadata():
    result = run_llmkit("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in map(orjson.loads, result.stdout.splitlines())}
    assert FIRST_PARTY <= set(rows)
    for name in FIRST_PARTY:
        row = rows[name]
        assert row["status"] == "ok", row
        assert row["module"].startswith("llmkit_") and row["version"] and row["description"]


def test_a_plugin_that_fails_to_import_is_listed_and_the_rest_still_work(monkeypatch, tmp_path, capfdbinary):
    good = EntryPoint("demo", "tests.core.demo_plugin:app", plugin_registry.PLUGIN_GROUP)
    broken = EntryPoint("broken", "no_such_module_for_llmkit:app", plugin_registry.PLUGIN_GROUP)
    monkeypatch.setattr(plugin_registry, "entry_points", lambda group: [good, broken] if group == plugin_registry.PLUGIN_GROUP else [])
    found = {p.name: p for p in plugin_registry.discover_plugins()}
    assert found["demo"].ok and found["demo"].description.startswith("Demo step")
    assert not found["broken"].ok and "No module named 'no_such_module_for_llmkit'" in found["broken"].error

    from llmkit.cli import main

    def run(*args):
        with pytest.raises(SystemExit) as stop:
            main(list(args), plugins=list(found.values()))
        out, err = capfdbinary.readouterr()
        return stop.value.code, out, err

    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "ok"}\n')
    status, out, _ = run("demo", "-i", str(data), "-q")
    assert status == 0 and b'"upper":"OK"' in out
    status, out, _ = run("plugins", "--json")
    rows = {r["name"]: r for r in map(orjson.loads, out.splitlines())}
    assert rows["broken"]["status"] == "failed" and "no_such_module_for_llmkit" in rows["broken"]["error"]
    status, _, err = run("broken")
    assert status == 70 and b"failed to load" in err


def test_allowlist_restricts_plugins(monkeypatch):
    monkeypatch.setenv("LLMKIT_PLUGINS", "mia")
    assert [p.name for p in plugin_registry.discover_plugins()] == ["mia"]


def test_unknown_backend_is_a_usage_error():
    from llmkit import BackendOptions, UsageError
    from llmkit.backends import open_backend

    try:
        open_backend(BackendOptions(model="x", backend="nope"))
    except UsageError as exc:
        assert "unknown backend 'nope'" in str(exc) and "hf" in str(exc)
    else:
        raise AssertionError("no error")


def test_option_help_survives_postponed_annotations(capfd):
    from llmkit.cli import main
    from llmkit.plugins import PluginInfo
    from tests.core import future_plugin

    with pytest.raises(SystemExit):
        main(["future", "--help"], plugins=[PluginInfo("future", "tests.core.future_plugin", "0", "", obj=future_plugin.app)])
    out = capfd.readouterr().out
    assert "THE FIELD HELP" in out and "--rejects" in out


@pytest.mark.parametrize("command", [["mia", "eval"], ["utf8-eval", "summary"], ["utf8-eval", "char-tiers"], ["ability-pca"]])
def test_first_party_aggregates_refuse_shard(tmp_path, command):
    """Aggregates analyse their whole input: --shard and --resume are not even offered."""
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": 1}\n')
    for flag in (["--shard", "1/2"], ["--resume", "-o", str(tmp_path / "out.jsonl")]):
        result = run_llmkit(*command, "-i", str(data), *flag)
        assert result.returncode == 2
        assert f"No such option: {flag[0]}".encode() in result.stderr
    assert b"--shard" not in run_llmkit(*command, "--help").stdout


def test_root_help_names_every_subcommand_groups_included():
    result = subprocess.run([sys.executable, "-m", "llmkit", "--help"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert FIRST_PARTY | {"plugins", "tiny-model"} <= listed


def test_console_exit_survives_a_library_that_aborts_at_finalisation(tmp_path):
    """Planted: a 'vllm' module whose objects abort the process when the interpreter finalises
    (as vLLM's native threads can). The console entry must still exit with the run's status,
    after the atexit handlers and with stdout flushed."""
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, os, sys, types\n"
        "class Bomb:\n"
        "    def __del__(self):\n"
        "        os.abort()\n"
        "fake = types.ModuleType('vllm'); fake.bomb = Bomb(); sys.modules['vllm'] = fake\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').close())\n"
        "sys.argv = ['llmkit', 'plugins', '--json']\n"
        "from llmkit.cli import console\n"
        "console()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert marker.exists()
    assert [orjson.loads(line) for line in result.stdout.splitlines()]  # flushed before the hard exit
    # the same without the console entry: the planted abort does fire, so the test can fail
    aborting = code.replace("from llmkit.cli import console\nconsole()\n", "from llmkit.cli import main\nmain()\n")
    assert subprocess.run([sys.executable, "-c", aborting], capture_output=True, timeout=120).returncode == -6


def test_every_option_is_listed_once_in_help():
    """Injected option sets keep their own flags: `--chat/--no-chat` was once shown as `--chat,--chat`."""
    from llmkit.cli import build_app

    def commands(group):
        for sub in getattr(group, "commands", {}).values():
            yield sub
            yield from commands(sub)

    for command in commands(build_app()):
        for param in command.params:
            flags = [*param.opts, *param.secondary_opts]
            assert len(flags) == len(set(flags)), (command.name, flags)
