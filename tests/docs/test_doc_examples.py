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
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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


#: the pages whose ```bash blocks the test below runs
RUN_PAGES = [p for p in COMMAND_PAGES if any(lang == "bash" for lang, _ in fenced_blocks(p))]
#: pages run at once: an example is mostly interpreter start-up and imports (one core each), so
#: two at a time keep CI's two cores busy where one at a time left one idle
PAGES_AT_ONCE = 2


@dataclass
class BlockRun:
    body: str
    returncode: int
    stderr: str


def run_page(page: Path, folder: Path) -> list[BlockRun]:
    """Run the page's ```bash blocks in order in ``folder``, up to the first that fails."""
    # Run where `examples/` is what the repository holds, but in a folder of the page's own: a
    # script writes its results beside it (`mia_example/`, ...) when it is given no folder.
    folder.mkdir(parents=True)
    (folder / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "WORK": str(folder / "work"), "TMPDIR": str(folder), "VLLM_CPU_KVCACHE_SPACE": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    runs = []
    for language, body in fenced_blocks(page):
        if language == "bash":
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=1800)
            runs.append(BlockRun(body, done.returncode, done.stderr))
            if done.returncode != 0:
                break
    return runs


@pytest.fixture(scope="module")
def page_runs(request, tmp_path_factory) -> Iterator[dict[str, Future[list[BlockRun]]]]:
    """Every selected page started in the background when the first page test runs (each in a
    folder of its own, as before), PAGES_AT_ONCE at a time; a test waits for its own page."""
    pages = [item.callspec.params["page"] for item in request.session.items
             if getattr(item, "originalname", None) == "test_the_bash_blocks_of_a_command_page_run"]
    root = tmp_path_factory.mktemp("pages")
    pool = ThreadPoolExecutor(max_workers=PAGES_AT_ONCE, thread_name_prefix="doc-page")
    yield {page.stem: pool.submit(run_page, page, root / page.stem) for page in pages}
    pool.shutdown(cancel_futures=True)  # a session cut short (-x) starts no page it will not check


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: p.stem)
def test_the_bash_blocks_of_a_command_page_run(page, page_runs):
    runs = page_runs[page.stem].result()
    assert runs, f"{page.name}: no ```bash block ran"
    for run in runs:
        assert run.returncode == 0, f"{page.name}:\n{run.body}\n{run.stderr[-4000:]}"
