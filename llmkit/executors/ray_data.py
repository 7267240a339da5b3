"""The Ray executor (``--executor ray``): the same step, run by Ray Data on a cluster.

How a run goes:

- the driver (this process) lists the input files, pickles the step *before* ``open()`` and starts
  one Ray Data pipeline: read tasks cut each file into the contract's batches (the same
  :func:`llmkit.io.read_batches`, so lines keep their ``FILE:LINE``), and ``--replicas`` actors,
  each holding one opened step (one model), parse and process them with the contract's own code;
- each batch's kept records and rejects are written by the actor as one part file in the ``-o``
  folder (and one in the ``--rejects`` folder), named by input file, first line and run, through
  a temporary file renamed into place: a batch retried after a worker died writes the same name
  again, so the output has no duplicate and, as every batch ends with its part, no gap;
- the actors send back only each batch's counts, which the driver adds into the summary.

Records are exactly those the local executor writes (their order across parts aside). What
differs is said in the README: ``-o`` and ``--rejects`` are folders, ``--limit`` is refused, and
under ``--resume`` every record needs its own id (a position is not known across parts).
"""

from __future__ import annotations

import glob
import logging
import os
import pickle
import queue
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from llmkit.contract import IOOptions, Run, parse_batch, process_batch
from llmkit.errors import BackendUnavailable, LlmkitError, UsageError, require
from llmkit.io import Done, LineWriter, read_batches, scan_done
from llmkit.step import Step
from llmkit.summary import Summary

#: files of a folder given as input that are read (a folder saved by datasets is read whole)
_INPUT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".gz", ".parquet")
_LOCK = ".llmkit-lock"


def run_on_ray(step: Step, options: IOOptions) -> Summary:
    """Run ``step`` over the inputs on Ray under the JSONL contract. Returns the summary."""
    shard = options.validate()
    _refuse(step, options)
    ray = require("ray", "ray", "--executor ray")
    require("ray.data", "ray", "--executor ray")
    import cloudpickle

    files = input_files(options.inputs or [])
    folders = [options.output] + ([options.rejects] if options.rejects else [])
    _check_folders(files, folders)  # type: ignore[arg-type]
    locks = [_lock_folder(folder) for folder in folders]  # type: ignore[arg-type]
    summary = Summary()
    try:
        done = Done()
        if options.resume:
            for folder in folders:
                for part in _parts(folder):  # type: ignore[arg-type]
                    scan_done(part, options.id_field, done)
            summary.resumed = len(done)
        else:
            for folder in folders:
                _remove_parts(folder)  # type: ignore[arg-type]
        # pickled here, before open(): a step holds its settings, not its model, until it opens
        step_blob = cloudpickle.dumps(step)
        owned = not ray.is_initialized()  # a caller that joined a cluster itself keeps it
        if owned:
            _connect(ray, options)
        try:
            _execute(ray, step_blob, step, options, shard, files, done, summary)
        finally:
            if owned:
                ray.shutdown()
    finally:
        summary.seconds = time.monotonic() - summary.started
        if not options.quiet:
            summary.print()
        for lock in locks:
            lock.close()
    return summary


def _refuse(step: Step, options: IOOptions) -> None:
    if step.aggregate:
        raise UsageError(
            f"{step.name} analyses its whole input at once and cannot run with --executor ray: run it "
            "locally on the collected output (cat the part files of the -o folder into it)"
        )
    if options.output is None or options.output == "-":
        raise UsageError("--executor ray writes a folder of part files: give -o FOLDER")
    if options.limit is not None:
        raise UsageError("--limit does not apply with --executor ray (the input is read in parallel): cut the input instead")
    if not options.inputs or "-" in options.inputs:
        raise UsageError("--executor ray reads files every node can see: give -i PATH (standard input is not read)")
    if options.rejects is not None and _same_path(options.rejects, options.output):
        raise UsageError("--rejects and --output must be different folders")


def _same_path(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def input_files(inputs: list[str]) -> list[str]:
    """The files behind the ``-i`` values, in a stable order: a file as given, a folder's input
    files (recursively, sorted), a glob's matches (sorted); a folder saved by datasets whole."""
    files: list[str] = []
    for given in inputs:
        if "://" in given:
            raise UsageError(f"input {given}: --executor ray reads paths of a file system every node mounts, not URIs")
        path = Path(given)
        if path.is_dir() and not ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.name.endswith(_INPUT_SUFFIXES))
            if not found:
                raise UsageError(f"input folder {given} holds no .jsonl, .jsonl.gz or .parquet file")
            files.extend(found)
        elif path.exists():
            files.append(given)
        elif glob.has_magic(given):
            found = sorted(glob.glob(given, recursive=True))
            if not found:
                raise UsageError(f"input {given}: no file matches")
            files.extend(found)
        else:
            raise UsageError(f"cannot open input {given}: No such file or directory")
    return files


def _check_folders(files: list[str], folders: list[str]) -> None:
    for folder in folders:
        path = Path(folder)
        if path.exists() and not path.is_dir():
            raise UsageError(f"--executor ray writes a folder of part files, and {folder} is a file")
        resolved = path.resolve()
        for name in files:
            if resolved in Path(name).resolve().parents:
                raise UsageError(f"input {name} lies inside the output folder {folder}")
        path.mkdir(parents=True, exist_ok=True)


def _lock_folder(folder: str) -> LineWriter:
    """A lock file held for the run: a second run on the same folder exits 75."""
    return LineWriter(os.path.join(folder, _LOCK))


def _parts(folder: str) -> list[str]:
    return sorted(glob.glob(os.path.join(glob.escape(folder), "part-*.jsonl")))


def _remove_parts(folder: str) -> None:
    """A run without --resume starts the folder anew: its part files (and temporaries left by a
    killed run) go; any other file stays."""
    for name in _parts(folder) + glob.glob(os.path.join(glob.escape(folder), ".part-*.tmp")):
        os.unlink(name)


def _connect(ray: Any, options: IOOptions) -> None:
    address = options.ray_address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(
            address=address, logging_level=logging.WARNING, log_to_driver=not options.quiet,
            include_dashboard=False, configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise BackendUnavailable(f"cannot start or join {where}: {exc}") from exc
    # Ray Data's notes (progress bars off, execution plans) are not the run's business; its
    # errors still show
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _execute(
    ray: Any, step_blob: bytes, step: Step, options: IOOptions, shard: tuple[int, int] | None,
    files: list[str], done: Done, summary: Summary,
) -> None:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = not options.quiet and sys.stderr.isatty()
    context.print_on_execution_start = False
    # a block per contract batch (a row is bigger than this): one file's batches spread over
    # every replica instead of going to one actor as one block
    context.target_max_block_size = 1024
    tag = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    size = options.batch_size or step.batch_size
    items = [{"index": index, "path": path} for index, path in enumerate(files)]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    # reading takes no CPU of its own: actors that hold every CPU must not starve it (Ray Data
    # then waits for ever with the read task backpressured)
    dataset = dataset.flat_map(_read_file, fn_kwargs={"size": size}, num_cpus=0)
    dataset = dataset.map_batches(
        _StepActor,
        batch_size=1,  # one contract batch (a row) per call: its part is named by it
        batch_format="numpy",
        fn_constructor_kwargs={"step_blob": step_blob, "options": options, "shard": shard, "done": done, "tag": tag},
        # Ray Data restarts a dead actor and retries its batches (max_restarts and
        # max_task_retries default to -1 for an actor pool)
        compute=ray.data.ActorPoolStrategy(size=options.replicas),
        num_cpus=options.cpus_per_replica,
        num_gpus=options.gpus_per_replica or None,
    )
    for row in _rows(dataset, options.stall_timeout):
        counts, error = pickle.loads(row["result"])
        _add(summary, counts)
        if error is not None:
            raise error


def _read_file(item: dict[str, Any], size: int) -> Any:
    """The contract's batches of one input file, each a row: the actor gets one per call."""
    index, path = int(item["index"]), str(item["path"])
    for raw in read_batches(path, size):
        yield {"key": f"{index:05d}-{raw.first_line:012d}", "payload": pickle.dumps(raw)}


def _rows(dataset: Any, stall_timeout: float) -> Any:
    """The dataset's rows, from a thread that runs it; no row for ``stall_timeout`` seconds ends
    the run (exit 69) rather than waiting for ever on a cluster that cannot schedule the work."""
    results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=64)

    def pump() -> None:
        try:
            for row in dataset.iter_rows():
                results.put(("row", row))
            results.put(("end", None))
        except BaseException as exc:  # handed to the main thread, which raises it
            results.put(("error", exc))

    threading.Thread(target=pump, name="llmkit-ray", daemon=True).start()
    while True:
        try:
            kind, value = results.get(timeout=stall_timeout)
        except queue.Empty:
            raise BackendUnavailable(
                f"--executor ray: no batch finished in {stall_timeout:g} s (--stall-timeout). The cluster may "
                "lack the CPUs or GPUs the replicas ask for (--replicas, --cpus-per-replica, --gpus-per-replica: "
                "see `ray status`), or one batch takes longer than that (a smaller --batch-size helps)"
            ) from None
        if kind == "end":
            return
        if kind == "error":
            raise _translated(value)
        yield value


def _translated(exc: BaseException) -> BaseException:
    """An error of the pipeline as the contract's: an llmkit error raised on a worker is itself."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, LlmkitError):
        return cause
    if isinstance(exc, (LlmkitError, KeyboardInterrupt)):
        return exc
    return LlmkitError(f"--executor ray: the Ray pipeline failed: {exc}")


def _add(summary: Summary, counts: Summary) -> None:
    summary.read += counts.read
    summary.written += counts.written
    summary.rejected.update(counts.rejected)
    summary.invalid += counts.invalid
    summary.skipped += counts.skipped
    summary.other_shards += counts.other_shards


class _Collect:
    """Stands in for a :class:`LineWriter`: keeps a batch's records for its part file."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write_records(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)


class _StepActor:
    """One replica: the step opened once, fed one contract batch per call."""

    def __init__(self, step_blob: bytes, options: IOOptions, shard: tuple[int, int] | None, done: Done, tag: str) -> None:
        self.options, self.shard, self.done, self.tag = options, shard, done, tag
        self.step: Step = pickle.loads(step_blob)
        self.failed: LlmkitError | None = None
        try:
            self.step.open()
        except LlmkitError as exc:  # every batch reports it: the driver stops with its exit status
            self.failed = _portable(exc)
        except Exception as exc:  # noqa: BLE001 - a bug of the step: reported, not retried for ever
            self.failed = LlmkitError(f"step {self.step.name!r} failed to open on a Ray worker: {type(exc).__name__}: {exc}")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = [pickle.dumps(self._one(str(key), pickle.loads(payload))) for key, payload in zip(batch["key"], batch["payload"])]
        return {"key": list(batch["key"]), "result": results}

    def _one(self, key: str, raw: Any) -> tuple[Summary, LlmkitError | None]:
        run = Run(self.options, self.step, self.shard, done=self.done)
        if self.failed is not None:
            return run.summary, self.failed
        if self.options.resume:
            run.own_ids = True  # a record without an id is refused: positions are not known across parts
        out, rejects = _Collect(), _Collect()
        run.rejects = rejects  # type: ignore[assignment]
        batch, error = parse_batch(run, raw)
        try:
            if batch.records:
                process_batch(run, batch, out, rejects)  # type: ignore[arg-type]
        except LlmkitError as exc:
            return run.summary, _portable(exc)
        name = f"part-{key}-{self.tag}.jsonl"
        # rejects first: the output part is the last thing a finished batch writes
        if self.options.rejects is not None:
            _write_part(self.options.rejects, name, rejects.records)
        _write_part(self.options.output, name, out.records)  # type: ignore[arg-type]
        summary = run.summary
        summary.started = 0.0  # not a clock of this process's: the driver times the run
        return summary, _portable(error) if error is not None else None

    def __del__(self) -> None:
        try:
            self.step.close()
        except Exception:  # noqa: BLE001 - an actor going away has no one to tell
            pass


def _portable(exc: LlmkitError) -> LlmkitError:
    """The error as it can cross to the driver: itself when it pickles back, else an error with
    its message and exit status (an exception whose ``__init__`` takes other arguments than its
    message does not unpickle)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip means: send the plain form
        plain = LlmkitError(str(exc))
        plain.exit_code = exc.exit_code
        return plain


def _write_part(folder: str, name: str, records: list[dict[str, Any]]) -> None:
    """One batch's part, whole or not at all: written aside, then renamed into place."""
    if not records:
        return
    temporary = os.path.join(folder, f".{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    writer = LineWriter(temporary)
    try:
        writer.write_records(records)
    finally:
        writer.close()
    os.replace(temporary, os.path.join(folder, name))
