"""The pylint side of the lint stage: a warm parent per worker, one forked child per snippet.

Each pool worker configures a PyLinter once with SwallowCode's configuration and pre-builds
astroid's trees of the standard-library modules snippets usually import (:data:`PREWARM_MODULES`).
That is the state a ``pylint`` process reaches after its start-up and the builds a snippet
triggers, which cost about a second per snippet in the one-process-per-snippet reference. Then,
for every snippet, the worker ``fork()``s: the child lints the snippet from that warm state
(shared copy-on-write), sends its result through a pipe and leaves with ``os._exit``. The parent
never lints a snippet, so nothing a snippet does can reach the next one: a snippet writing
``os.flag = 1`` makes astroid record the attribute in the cached ``os`` tree, but only in the
child's copy (tests/rewrite/test_lint.py checks this). Every snippet starts from the same state,
memory cannot grow from snippet to snippet, a timeout kills the child and a crash (even a
segfault or a recursion overflow in astroid) takes down only the child.

Why the warm state scores like a fresh process: a module's astroid tree is built from its source
alone, so a pre-built ``typing`` is the tree a fresh process builds when a snippet imports it;
inference memos and pylint's lru caches are emptied after the warm-up, so no memo is shared.
The one way building order can show: a module that assigns an attribute on another module's
object (astroid's ``delayed_assattr``) adds it to that tree once it is built, in the warm state
even when the snippet never imports the writer. :func:`cross_module_writes` lists those writes
for the prewarm list: almost all add attributes the target already has (``exc.__context__`` on
builtin exceptions, ``err.filename`` on ``OSError``, ``cls.__init__`` on ``type``); the rest
touch rarely inspected objects (``warnings`` adds ``filters``/``showwarning`` to module objects,
``multiprocessing.context`` an attribute to thread-locals). ``unittest.mock`` and ``configparser`` are left out of the list because they
add ``__signature__``/``_mock_check_sig`` to ``builtins.type`` and ``converter`` to
``functools.partial``. ``benchmarks/lint_throughput.py`` measures the largest score difference
against a ``pylint`` process per snippet on 200 files.

Snippet code is only parsed (by astroid), never executed or imported: no configuration file is
read (``--rcfile`` is the null device, so a ``pylintrc``/``pyproject.toml`` in the working
directory or ``$PYLINTRC`` changes nothing), no pylint plugin is loaded (no ``init-hook`` can
come from anywhere), the worker works in an empty temporary folder with the caller's directory
off ``sys.path`` (``import utils`` in a snippet cannot reach a user's file), and astroid loads
no third-party compiled extension (pylint's default ``unsafe-load-any-extension=no``). It does
import a standard-library C extension that a snippet imports by name (``import _curses_panel``),
to build its tree, as pylint run on its own does: that is the interpreter's code, not the
snippet's, and it is imported in the child that lints this one snippet.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import select
import signal
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass
from io import StringIO
from typing import Any

#: SwallowCode's disabled messages: import-error, missing-module-docstring, line-too-long,
#: invalid-name, missing-function-docstring, wrong-import-order, too-few-public-methods, fixme,
#: ungrouped-imports.
DISABLED_MESSAGES = ("E0401", "C0114", "C0301", "C0103", "C0116", "C0411", "R0903", "W0511", "C0412")

#: The flags both llmkit and the reference subprocess use (plus the file to lint).
PYLINT_FLAGS = (
    f"--rcfile={os.devnull}",
    "--persistent=n",
    "--load-plugins=",
    "--jobs=1",
    f"--disable={','.join(DISABLED_MESSAGES)}",
)

#: Module name the snippet is linted as (a file ``llmkit_snippet.py`` in an empty folder).
SNIPPET_MODULE = "llmkit_snippet"

#: Standard-library modules whose astroid trees each worker builds once, before any snippet:
#: what snippets commonly import, plus what those modules pull in when pylint infers through
#: them (``os.path`` is ``posixpath``, ``typing`` reads ``collections.abc`` ...). A module
#: missing here is still linted exactly, only built anew (in the child) for each snippet.
PREWARM_MODULES = (
    "abc", "argparse", "ast", "asyncio", "base64", "bisect", "collections", "collections.abc", "contextlib",
    "copy", "csv", "dataclasses", "datetime", "decimal", "enum", "fractions", "functools", "glob", "hashlib",
    "heapq", "inspect", "io", "itertools", "json", "logging", "math", "numbers", "operator", "os", "os.path",
    "pathlib", "pickle", "pprint", "queue", "random", "re", "shutil", "statistics", "string",
    "struct", "subprocess", "sys", "tempfile", "textwrap", "threading", "time", "traceback", "types",
    "typing", "unittest", "urllib.parse", "urllib.request", "uuid", "weakref",
    "concurrent.futures", "getopt", "multiprocessing", "platform", "signal", "sqlite3",
    "timeit", "zipfile",
    # pulled in when pylint infers through the modules above
    "_collections_abc", "_sre", "_stat", "_warnings", "codecs", "copyreg", "genericpath", "ntpath",
    "posixpath", "re._compiler", "sre_compile", "sre_parse", "stat",
)


@dataclass(frozen=True, slots=True)
class LintResult:
    """``raw_score``: pylint's note as it prints it (2 decimals); None when pylint gives none
    (no statement, a timeout or a crash). ``comment_ratio``: see :func:`comment_ratio`.
    ``error``: pylint (the child linting the snippet) crashed; ``detail`` says how."""

    raw_score: float | None
    comment_ratio: float
    detail: str | None = None
    timed_out: bool = False
    error: bool = False


def comment_ratio(code: str) -> float:
    """Share of COMMENT tokens among all tokens ``tokenize.generate_tokens`` yields.

    As SwallowCode's public filter does: every token counts, including NEWLINE, NL, INDENT,
    DEDENT and ENDMARKER (``generate_tokens`` yields no ENCODING token); a snippet the tokenizer
    cannot read, or an empty one, has ratio 0 (no penalty).
    """
    total = comments = 0
    try:
        for token in tokenize.generate_tokens(StringIO(code).readline):
            total += 1
            comments += token.type == tokenize.COMMENT
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return 0.0
    return comments / total if total else 0.0


def penalised_score(raw_score: float, ratio: float) -> float:
    """SwallowCode's comment penalty: score x (1 - r)."""
    return raw_score * (1.0 - ratio)


class WarmLinter:
    """A configured PyLinter with pre-built module trees; :meth:`score` lints each snippet in a
    forked child, so this process's state never changes after construction."""

    def __init__(self, workdir: str, prewarm: tuple[str, ...] = PREWARM_MODULES) -> None:
        from pylint.lint import Run
        from pylint.reporters import CollectingReporter

        self.path = os.path.join(workdir, SNIPPET_MODULE + ".py")
        warm_dir = tempfile.mkdtemp(prefix="warm-", dir=workdir)  # not the snippet's folder or name
        warm_path = os.path.join(warm_dir, "llmkit_warm_up.py")
        with open(warm_path, "w", encoding="utf-8") as handle:
            handle.write("WARM_UP = 1\n")
        run = Run([*PYLINT_FLAGS, "--score=n", "--reports=n", warm_path], reporter=CollectingReporter(), exit=False)
        self.linter = run.linter
        self.built = _prewarm(prewarm)
        _forget_memos(drop_modules=("llmkit_warm_up",))
        gc.collect()
        gc.freeze()  # the children's collections then skip (and do not copy) the warm heap

    def score(self, code: str, timeout: float | None = None) -> LintResult:
        """Lint ``code`` in a forked child; kill it after ``timeout`` seconds."""
        ratio = comment_ratio(code)
        try:
            data = code.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: the CLI rejects these earlier, the API may not
            return LintResult(None, ratio, f"not Unicode text ({exc.reason} at character {exc.start})")
        with open(self.path, "wb") as handle:
            handle.write(data)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _child(self, write_end)
        os.close(write_end)
        try:
            payload, timed_out = _read_all(read_end, timeout)
        finally:
            os.close(read_end)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if timed_out:
            return LintResult(None, ratio, f"pylint took longer than {timeout:g} s", timed_out=True)
        try:
            note, detail = pickle.loads(payload)
        except Exception:  # nothing (or half) sent: the child died
            return LintResult(None, ratio, f"pylint crashed ({_describe(status)})", error=True)
        if note is None and detail is not None and detail.startswith("pylint failed"):
            return LintResult(None, ratio, detail, error=True)
        return LintResult(None if note is None else float(f"{note:.2f}"), ratio, detail)

    def lint_here(self) -> tuple[float | None, str | None]:
        """Lint the snippet file in this process: pylint's note (unrounded) or why there is none."""
        from pylint.utils import LinterStats

        linter = self.linter
        linter.stats = LinterStats()
        linter.reporter.messages = []
        linter.check([self.path])
        stats = linter.stats
        if stats.statement == 0:
            unparsable = next((m for m in linter.reporter.messages if m.msg_id == "E0001"), None)
            if unparsable is not None:  # lint run without the syntax stage: say why, not "no statement"
                return None, f"pylint could not parse it: {unparsable.msg} (line {unparsable.line})"
            return None, "pylint found no statement to score"
        names = ("fatal", "error", "warning", "refactor", "convention", "statement", "info")
        # pylint's own evaluation expression (the default one: no configuration file is read)
        note = eval(linter.config.evaluation, {}, {name: getattr(stats, name) for name in names})  # noqa: S307
        return float(note), None


def _child(linter: WarmLinter, write_end: int) -> None:
    """Lint, send ``(note, detail)`` and exit without running any cleanup of the parent's."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        faulthandler.disable()  # a crash is reported through the reject's detail, not a dump per snippet
        # The child lives for one snippet and its memory goes back at exit: collecting astroid's
        # reference cycles meanwhile is wasted work.
        gc.disable()
        try:
            result = linter.lint_here()
        except RecursionError:
            result = (None, "pylint failed: RecursionError")
        except Exception as exc:  # pylint crashed outside its own handlers
            result = (None, f"pylint failed: {type(exc).__name__}: {exc}")
        data = pickle.dumps(result)
        while data:
            data = data[os.write(write_end, data):]
    except BaseException:  # noqa: BLE001 - the child must reach os._exit whatever happens
        code = 1
    finally:
        os._exit(code)


def _read_all(fd: int, timeout: float | None) -> tuple[bytes, bool]:
    """Everything written to ``fd`` until its writer exits; (data, timed out)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            continue  # the loop sees the deadline pass
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _prewarm(names: tuple[str, ...]) -> list[str]:
    """Build the astroid trees of ``names`` (those that exist); the names built."""
    from astroid import MANAGER
    from astroid.exceptions import AstroidError

    built = []
    for name in names:
        try:
            MANAGER.ast_from_module_name(name)
        except (AstroidError, ImportError, SyntaxError):
            continue
        built.append(name)
    return built


def _forget_memos(drop_modules: tuple[str, ...] = ()) -> None:
    """Empty astroid's inference memos and pylint's lru caches, keeping the module trees."""
    from astroid import MANAGER
    from astroid.context import _invalidate_cache
    from astroid.inference_tip import clear_inference_tip_cache
    from pylint.checkers.clear_lru_cache import clear_lru_caches

    for name in drop_modules:
        MANAGER.astroid_cache.pop(name, None)
    clear_lru_caches()
    _invalidate_cache()
    clear_inference_tip_cache()


def cross_module_writes(names: tuple[str, ...] = PREWARM_MODULES) -> list[str]:
    """The attributes astroid records from one module into another's tree while building
    ``names`` in a fresh process (``module.attribute -> target``); for documentation and tests."""
    from astroid.builder import AstroidBuilder

    found: list[str] = []
    original = AstroidBuilder.delayed_assattr

    def logging_assattr(builder: Any, node: Any) -> None:
        before = {id(target): set(target) for target in _attribute_dicts(node)}
        original(builder, node)
        for target, holder in _attribute_dicts(node, with_owner=True):
            if holder.root() is not node.root() and node.attrname not in before.get(id(target), ()):
                found.append(f"{node.root().name}: {node.as_string()} -> {holder.root().name}.{holder.name}")

    AstroidBuilder.delayed_assattr = logging_assattr  # type: ignore[method-assign]
    try:
        _prewarm(names)
    finally:
        AstroidBuilder.delayed_assattr = original  # type: ignore[method-assign]
    return found


def _attribute_dicts(node: Any, with_owner: bool = False) -> list[Any]:
    from astroid import bases, objects, util
    from astroid.exceptions import InferenceError

    found = []
    try:
        for inferred in node.expr.infer():
            if isinstance(inferred, util.UninferableBase):
                continue
            if type(inferred) in {bases.Instance, objects.ExceptionInstance}:
                owner, attributes = inferred._proxied, inferred._proxied.instance_attrs
            elif isinstance(inferred, (bases.Instance, bases.Proxy)):
                continue
            elif getattr(inferred, "is_function", False):
                owner, attributes = inferred, inferred.instance_attrs
            else:
                owner, attributes = inferred, getattr(inferred, "locals", None)
            if attributes is not None:
                found.append((attributes, owner) if with_owner else attributes)
    except (InferenceError, AttributeError):
        pass
    return found


# ---- worker-process entry points (a worker of lint_pool.LintPool calls these) ----

_WORKER: WarmLinter | None = None
_TIMEOUT: float | None = None
_INIT_ERROR: str | None = None


def init_worker(timeout: float | None, parent_cwd: str, root: str | None = None) -> None:
    """A worker's start: isolate the process, then build its warm linter once.

    The parent's working directory (where the user's own modules may lie) leaves ``sys.path``,
    as ``pylint`` itself does for its working directory."""
    global _WORKER, _TIMEOUT, _INIT_ERROR
    # Ctrl-C is the parent's to handle (it terminates the pool); a worker the pool starts again
    # later, from a thread, did not inherit the ignored SIGINT that the first ones start with
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        workdir = tempfile.mkdtemp(prefix="llmkit-lint-", dir=root)
        os.chdir(workdir)
        parent = os.path.abspath(parent_cwd)
        sys.path[:] = [entry for entry in sys.path if entry not in ("", ".") and os.path.abspath(entry) != parent]
        _WORKER = WarmLinter(workdir)
        _TIMEOUT = timeout
    except Exception as exc:  # reported by worker_status(); raising here would respawn forever
        _INIT_ERROR = f"{type(exc).__name__}: {exc}"


def worker_status(_: object = None) -> str | None:
    """None when this worker is ready, else why its initialisation failed."""
    return _INIT_ERROR if _WORKER is None else None


def lint_in_worker(code: str) -> LintResult:
    if _WORKER is None:
        raise RuntimeError(f"lint worker not initialised: {_INIT_ERROR}")
    try:
        return _WORKER.score(code, _TIMEOUT)
    except OSError as exc:  # fork or pipe failed (out of processes or memory): this snippet only
        return LintResult(None, comment_ratio(code), f"could not run pylint: {exc}", error=True)
