"""Test doubles for plugin authors: a scripted backend and a step run over a list of records.

``ScriptedBackend(answers)`` answers each prompt from a script, no model and no network::

    backend = ScriptedBackend(["first answer", "second answer"])          # in order
    backend = ScriptedBackend(lambda prompt: "same answer")               # per prompt
    backend = ScriptedBackend([Completion("cut", [1], "length"),          # a finish reason
                               failure("too_long", "longer than the context")])  # an error result

An answer is a string (a completion with finish reason ``finish_reason``, token ids its UTF-8
bytes), a :class:`~llmkit.Completion` (as it is), or a :class:`~llmkit.backends.GenerationResult`
(the whole result of that prompt: an error, or several completions). The backend keeps every
prompt and :class:`~llmkit.SamplingParams` it got (``prompts``, ``params``, ``calls``).

``run_records(step, records)`` opens the step, feeds it the records in batches, collects what the
core would write, reject or add at the end, and closes it::

    result = run_records(MyStep(...), [{"text": "a"}, {"text": ""}])
    assert result.outputs == [...] and result.reasons == ["empty"]

The outcomes are checked as the core checks them (a wrong list is ``StepContractError``). While
the step processes a batch, :func:`llmkit.source_of` names each record ``<records>:N``, N its
1-based position in ``records`` (``source=`` picks another name than ``<records>``), as the core
names a record ``FILE:LINE`` of its input.

``run_command(args, stdin=..., files=...)`` runs ``llmkit ARGS`` in this process as a user would
run it in a shell: the files written first into a fresh working folder (the current folder of
the run), the standard input given as bytes, text or records, standard output and error caught
at the file-descriptor level (as a shell's redirections catch them), and the exit status the
console would return. It hands back a :class:`CommandRun`::

    run = run_command(["my-filter", "-i", "in.jsonl", "--rejects", "bad.jsonl"],   # drops empty texts
                      files={"in.jsonl": [{"text": "a"}, {"text": ""}]})
    assert run.status == 0 and run.summary["rejected_by_reason"] == {"empty": 1}
    assert run.outputs[0]["text"] == "a" and run.rejects[0]["reject"]["source"] == "in.jsonl:2"

``outputs`` are the records of ``-o FILE`` when the arguments name one (none when it names a
folder: ``run.path(...)`` reaches it), else those of standard output; ``rejects`` those of
``--rejects FILE``; both are read when the test asks for them; ``summary`` is the closing summary line of standard error read back into the
fields of ``Summary.as_dict`` (``None`` when the run printed none: ``--quiet``, or an error before
the end); ``stderr`` is also echoed to the test's own (pytest shows it beside a failure). ``plugins=`` runs the CLI with those plugins
instead of the installed ones. ``separate_process=True`` runs ``python -m llmkit`` in a child
process instead (for what only a process shows: signals, an exit that skips finalisation).

``write_jsonl(path, records)`` writes the JSONL of a test; ``read_records(path_or_bytes)`` reads one
back as a list (unlike :func:`llmkit.read_jsonl`, which yields a side file's records with their
``FILE:LINE`` and raises the core's errors).
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Union

import orjson

from llmkit.backends.base import Backend, Completion, GenerationResult, Prompt, SamplingParams
from llmkit.contract import processing_records
from llmkit.io import loads_exact, loads_lenient
from llmkit.plugins import PluginInfo
from llmkit.step import LateReject, Record, Reject, Step, check_outcomes

__all__ = [
    "Answer",
    "CommandRun",
    "JsonlData",
    "ScriptedBackend",
    "StepRun",
    "failure",
    "parse_summary",
    "read_records",
    "run_command",
    "run_records",
    "write_jsonl",
]

#: One scripted answer: a text, a whole completion, or a whole result (an error, say).
Answer = Union[str, Completion, GenerationResult]


def failure(reason: str, detail: str | None = None) -> GenerationResult:
    """A result the backend could not produce (``too_long``, ``empty_prompt``, ...)."""
    return GenerationResult(error=reason, detail=detail)


class ScriptedBackend(Backend):
    """A backend that answers from a script (see the module docstring)."""

    name = "scripted"

    def __init__(
        self,
        answers: Sequence[Answer] | Callable[[Prompt], Answer],
        max_model_len: int | None = None,
        *,
        finish_reason: str = "stop",
    ) -> None:
        self._script = answers if callable(answers) else iter(answers)
        self._max_model_len = max_model_len
        self.finish_reason = finish_reason
        self.prompts: list[Prompt] = []
        self.params: list[SamplingParams] = []
        self.calls = 0
        self.closed = False

    def _next(self, prompt: Prompt) -> Answer:
        return self._script(prompt) if callable(self._script) else next(self._script)

    def _completion(self, answer: str | Completion) -> Completion:
        if isinstance(answer, Completion):
            return answer
        return Completion(answer, list(answer.encode()), self.finish_reason)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[GenerationResult]:
        self.calls += 1
        self.prompts.extend(prompts)
        self.params.append(params)
        results = []
        for prompt in prompts:
            # with a context length, a prompt is "too long" by the length of its repr: crude, but
            # it lets a test plant a too_long result without a tokenizer
            if self._max_model_len is not None and len(str(prompt)) > self._max_model_len:
                results.append(failure("too_long", "prompt longer than the context"))
                continue
            completions = []
            result = None
            for _ in range(params.n):
                answer = self._next(prompt)
                if isinstance(answer, GenerationResult):
                    result = answer
                    break
                completions.append(self._completion(answer))
            results.append(result if result is not None else GenerationResult(completions))
        return results

    def close(self) -> None:
        self.closed = True


@dataclass
class StepRun:
    """What the core would have done with a step's outcomes."""

    #: records written, in order (those of ``finish()`` last)
    outputs: list[Record] = field(default_factory=list)
    #: (input record, reject) pairs, in order, late rejects of ``finish()`` last
    rejects: list[tuple[Record, Reject]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """The reasons of the rejects, in order."""
        return [reject.reason for _, reject in self.rejects]


def run_records(
    step: Step, records: Iterable[Record], batch_size: int | None = None, *, source: str = "<records>"
) -> StepRun:
    """Run ``step`` over ``records`` as the core would (open, batches, finish, close); while a
    batch is processed, :func:`llmkit.source_of` gives ``SOURCE:N`` (N counts records from 1)."""
    todo = list(records)
    size = batch_size or step.batch_size
    run = StepRun()
    step.open()
    try:
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            # as the executors say it, so source_of() answers as in a real run
            with processing_records(source, batch, range(start + 1, start + len(batch) + 1)):
                outcomes = check_outcomes(step, len(batch), step.process(batch))
            for record, outcome in zip(batch, outcomes):
                if isinstance(outcome, Reject):
                    run.rejects.append((record, outcome))
                elif outcome is not None:
                    run.outputs.append(outcome)
        for item in step.finish():
            if isinstance(item, LateReject):
                run.rejects.append((item.record, item.reject))
            else:
                run.outputs.append(item)
    finally:
        step.close()
    return run


#: JSONL a test hands to a command: bytes or text as they are, or records one JSON line each.
JsonlData = Union[bytes, str, Iterable[Record]]


def _jsonl_bytes(data: JsonlData) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return b"".join(orjson.dumps(record) + b"\n" for record in data)


def write_jsonl(path: str | os.PathLike[str], records: JsonlData) -> Path:
    """Write ``records`` (or raw bytes or text) to ``path``; returns the path."""
    target = Path(path)
    target.write_bytes(_jsonl_bytes(records))
    return target


def read_records(source: str | os.PathLike[str] | bytes) -> list[Record]:
    """The records of a JSONL file (gzipped or not) or of bytes; blank lines are skipped, a
    missing file has none. A line that is not JSON raises ``ValueError`` naming it."""
    if isinstance(source, bytes):
        data, name = source, "<bytes>"
    else:
        path = Path(source)
        data, name = (path.read_bytes() if path.exists() else b""), str(path)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            records.append(_parse_line(line, f"{name}:{number}"))
    return records


def _parse_line(line: bytes, where: str) -> Any:
    """A line as the core reads it: integers of any size exact, and what orjson refuses but the
    core writes back as it came (an integer beyond a double, a lone surrogate escape) read too."""
    try:
        return loads_exact(line)
    except ValueError:  # orjson's JSONDecodeError
        try:
            return loads_lenient(line)
        except ValueError as exc:
            raise ValueError(f"{where}: not JSON: {line[:200]!r}") from exc


@dataclass
class CommandRun:
    """What a user sees of one run of ``llmkit``."""

    #: the exit status (0 done, 2 usage, 65 bad input, 69 backend, 70 internal, ...)
    status: int
    #: standard output, as written
    stdout: bytes
    #: standard error, as text
    stderr: str
    #: the closing summary, as ``Summary.as_dict`` names its fields (no ``seconds``); None when
    #: the run printed none
    summary: dict[str, Any] | None
    #: the folder the command ran in, where ``files`` were written and relative paths point
    workdir: Path
    #: the file ``-o`` named (None: standard output)
    output_file: Path | None = None
    #: the file ``--rejects`` named
    rejects_file: Path | None = None

    @property
    def outputs(self) -> list[Record]:
        """The records of ``-o FILE`` when given (none when it names a folder, which the test
        reads itself), else those of standard output; read when asked for."""
        if self.output_file is None:
            return read_records(self.stdout)
        return read_records(self.output_file) if not self.output_file.is_dir() else []

    @property
    def rejects(self) -> list[Record]:
        """The records of ``--rejects FILE`` (none without it); read when asked for."""
        return read_records(self.rejects_file) if self.rejects_file is not None else []

    def path(self, name: str) -> Path:
        """A file of the run (a side output, say), relative to its working folder."""
        return self.workdir / name


_SUMMARY = re.compile(r"^llmkit: in (\d+), out (\d+), rejected (\d+)(?: \((.*?)\))?(.*)$", re.MULTILINE)
_SUMMARY_EXTRAS = {
    "invalid_lines": re.compile(r"invalid lines (\d+)"),
    "skipped_resume": re.compile(r"skipped \(already done\) (\d+)"),
    "other_shards": re.compile(r"left to other shards (\d+)"),
}


def parse_summary(stderr: str) -> dict[str, Any] | None:
    """The last closing summary line of ``stderr`` as a dict, or None when there is none."""
    found = list(_SUMMARY.finditer(stderr))
    if not found:
        return None
    read, written, rejected, reasons, rest = found[-1].groups()
    by_reason = {}
    for part in (reasons or "").split(", "):
        if part:
            reason, count = part.rsplit(" ", 1)
            by_reason[reason] = int(count)
    summary: dict[str, Any] = {"in": int(read), "out": int(written), "rejected": int(rejected)}
    summary["rejected_by_reason"] = by_reason
    for name, pattern in _SUMMARY_EXTRAS.items():
        match = pattern.search(rest)
        summary[name] = int(match.group(1)) if match else 0
    return summary


def _option_value(args: Sequence[str], *names: str) -> str | None:
    """The last value given to one of the long or short option ``names`` (``-o X``, ``--output=X``)."""
    value = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg in names and index + 1 < len(args):
            value = args[index + 1]
        elif "=" in arg and arg.split("=", 1)[0] in names:
            value = arg.split("=", 1)[1]
    return value


def run_command(
    args: Sequence[str | os.PathLike[str]],
    *,
    stdin: JsonlData | None = None,
    files: Mapping[str, JsonlData] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    plugins: list[PluginInfo] | None = None,
    separate_process: bool = False,
    timeout: float = 600,
    echo_stderr: bool = True,
) -> CommandRun:
    """Run ``llmkit ARGS`` as a user would, and read back what it wrote (see the module docstring).

    ``files`` maps paths (relative to the working folder) to their contents, written before the
    run; ``workdir`` is that folder (default: a fresh temporary one, left for the test to read
    unless the run left it empty);
    ``stdin`` is the standard input (default: empty). ``timeout`` bounds a separate process.
    The run's standard error is also written to this process's (``echo_stderr``), where pytest
    catches it and shows it beside a failure.
    """
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="llmkit-run-"))
    folder.mkdir(parents=True, exist_ok=True)
    for name, contents in (files or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(target, contents)
    argv = [os.fspath(arg) for arg in args]
    given = _jsonl_bytes(stdin) if stdin is not None else b""
    if separate_process:
        if plugins is not None:
            raise ValueError("plugins= needs the command to run in this process")
        done = subprocess.run(
            [sys.executable, "-m", "llmkit", *argv], input=given, capture_output=True, cwd=folder, timeout=timeout
        )
        status, out, err = done.returncode, done.stdout, done.stderr
    else:
        status, out, err = _run_here(argv, given, folder, plugins)
    stderr = err.decode(errors="replace")
    if echo_stderr:  # where the test's own output goes, so a failing test's report shows it
        sys.stderr.write(stderr)

    def named_file(*names: str) -> Path | None:
        path = _option_value(argv, *names)
        return folder / path if path not in (None, "-") else None

    if workdir is None and not any(folder.iterdir()):
        folder.rmdir()  # a folder of our own that the run left empty: nothing for the test to read
    output, rejects = named_file("-o", "--output"), named_file("--rejects")
    return CommandRun(status, out, stderr, parse_summary(stderr), folder, output, rejects)


def _run_here(argv: list[str], stdin: bytes, folder: Path, plugins: list[PluginInfo] | None) -> tuple[int, bytes, bytes]:
    """``llmkit.cli.run`` in this process, in ``folder``, with its standard streams redirected."""
    from llmkit.cli import run

    with tempfile.TemporaryDirectory(prefix="llmkit-streams-") as streams:
        paths = [Path(streams, name) for name in ("stdin", "stdout", "stderr")]
        paths[0].write_bytes(stdin)
        previous_folder = os.getcwd()
        previous_sigterm = signal.getsignal(signal.SIGTERM)
        os.chdir(folder)
        try:
            with _redirected_streams(*paths):
                status = run(argv, plugins)
        finally:
            signal.signal(signal.SIGTERM, previous_sigterm)  # run() installs its own
            os.chdir(previous_folder)
        return status, paths[1].read_bytes(), paths[2].read_bytes()


@contextmanager
def _redirected_streams(stdin: Path, stdout: Path, stderr: Path) -> Iterator[None]:
    """Point file descriptors 0, 1 and 2 (and ``sys.stdin/stdout/stderr`` over them) at files.

    At the descriptor level, not by swapping Python objects only: the core looks at descriptor 1
    (is the output the same file as an input?), and child processes write to descriptor 2."""
    saved_objects = (sys.stdin, sys.stdout, sys.stderr)
    for stream in saved_objects[1:]:
        stream.flush()
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    targets = [os.open(stdin, os.O_RDONLY)]
    targets += [os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) for path in (stdout, stderr)]
    for fd, target in enumerate(targets):
        os.dup2(target, fd)
        os.close(target)
    streams: list[IO[str]] = [
        open(0, encoding="utf-8", closefd=False),  # noqa: SIM115 - closed below
        open(1, "w", encoding="utf-8", closefd=False),  # noqa: SIM115
        open(2, "w", encoding="utf-8", closefd=False),  # noqa: SIM115
    ]
    sys.stdin, sys.stdout, sys.stderr = streams
    try:
        yield
    finally:
        for stream in streams:
            try:
                stream.close()  # flushes; the descriptors stay open (closefd=False)
            except (OSError, ValueError):
                pass  # a closed pipe was already reported by the run
        for fd, saved in enumerate(saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        sys.stdin, sys.stdout, sys.stderr = saved_objects
