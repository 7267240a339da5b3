"""The examples of the docs run as they are written.

docs/plugins.md is one plugin, written file by file in its fenced blocks (the convention is on
that page): it is built in a temporary project, installed by its entry points, and its own tests
are run with pytest. The ```bash blocks of the subcommand pages run as from the repository's root
(in a folder of their own that sees its examples/); ```console blocks are illustrations, not run.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_GUIDE = ROOT / "docs" / "plugins.md"
COMMAND_PAGES = sorted((ROOT / "docs" / "commands").glob("*.md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```$", re.M | re.S)
FILE_LINE = re.compile(r"# file: (\S+)\n")
SHELL = {"bash", "sh", "shell", "console"}


def fenced_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of a page, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def project_files(page: Path) -> dict[str, str]:
    """The files a page writes, by the page's convention: `# file: PATH` begins PATH, and a
    python block without it goes on with the last python file begun."""
    files: dict[str, str] = {}
    current = None
    for language, body in fenced_blocks(page):
        named = FILE_LINE.match(body)
        if named:
            path = named.group(1)
            files[path] = body[named.end():] if language == "text" else body
            current = path if language == "python" else current
        elif language == "python":
            assert current is not None, f"{page.name}: a python block before any `# file:` line"
            files[current] += "\n\n" + body
    return files


def install(project: Path) -> list[str]:
    """Make the project importable with its entry points, as `pip install -e` would (a dist-info
    folder beside the package, found through PYTHONPATH); returns the subcommand names."""
    with open(project / "pyproject.toml", "rb") as handle:
        meta = tomllib.load(handle)
    name, version = meta["project"]["name"], meta["project"]["version"]
    info = project / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[llmkit.plugins]"]
    plugins = meta["project"]["entry-points"]["llmkit.plugins"]
    lines += [f"{command} = {target}" for command, target in plugins.items()]
    info.joinpath("entry_points.txt").write_text("\n".join(lines) + "\n")
    return list(plugins)


@pytest.mark.slow  # a pytest run in a child process: about 10 s
def test_the_plugin_guide_builds_a_plugin_whose_tests_pass(tmp_path):
    project = tmp_path / "project"
    files = project_files(PLUGIN_GUIDE)
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    commands = install(project)
    assert commands == ["words"]
    # what the guide says ships as package data covers every prompt file it writes
    with open(project / "pyproject.toml", "rb") as handle:
        shipped = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["my_llmkit_plugin"]
    prompts = [p for p in files if p.startswith("my_llmkit_plugin/prompts/")]
    assert prompts and all(any(fnmatch.fnmatch(p.split("/", 1)[1], g) for g in shipped) for p in prompts)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    env.pop("LLMKIT_PLUGINS", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    tests = sum(text.count("\ndef test_") + text.startswith("def test_") for path, text in files.items()
                if path.startswith("tests/"))
    assert done.returncode == 0 and f"{tests} passed" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]
    helped = subprocess.run([sys.executable, "-m", "llmkit", "words", "--help"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and all(c in helped.stdout for c in ("count", "keep-long", "summarise"))


def test_every_shell_block_says_whether_it_runs():
    """A shell block is ```console (an illustration) or, on a subcommand page, ```bash (run by the
    test below): a ```bash block anywhere else would claim to run and not be run."""
    reference = [p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md"]
    for page in [*reference, *COMMAND_PAGES]:
        allowed = {"bash", "console"} if page in COMMAND_PAGES else {"console"}
        for language, _ in fenced_blocks(page):
            if language in SHELL or not language:
                assert language in allowed, f"{page.name}: a ```{language} block, where only {sorted(allowed)} may be"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in COMMAND_PAGES if any(lang == "bash" for lang, _ in fenced_blocks(p))],
                         ids=lambda p: p.stem)
def test_the_bash_blocks_of_a_command_page_run(page, tmp_path):
    # Run where `examples/` is what the repository holds, but in a folder of the test's own: a
    # script writes its results beside it (`mia_example/`, ...) when it is given no folder.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "WORK": str(tmp_path / "work"), "TMPDIR": str(tmp_path), "VLLM_CPU_KVCACHE_SPACE": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    for language, body in fenced_blocks(page):
        if language == "bash":
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=1800)
            assert done.returncode == 0, f"{page.name}:\n{body}\n{done.stderr[-4000:]}"
