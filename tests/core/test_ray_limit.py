"""``--limit`` under ``--executor ray``: the driver reads the inputs in order up to the N-th
record taken (as the local executor does) and the cluster handles exactly those lines. Checked
without a cluster: the lines cut for each limit, parsed without a limit as the replicas parse
them, give what a local run with that limit writes and rejects."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmkit import IOOptions, RecordStep, run_step
from llmkit.contract import Run, parse_batch
from llmkit.executors.ray_driver import _read_file, input_files, limit_cuts
from llmkit.io import Done


class Keep(RecordStep):
    name = "keep"

    def process_record(self, record):
        return record


def inputs(tmp_path: Path) -> list[str]:
    a = tmp_path / "a.jsonl"
    a.write_bytes(b'{"id": 1}\n{"id": 2}\n\n{"id": 3}\nnot json\n{"id": 4}\n{"id": 5}\n')
    b = tmp_path / "b.jsonl"
    b.write_bytes(b"".join(b'{"id": %d}\n' % i for i in range(6, 10)))
    return [str(a), str(b)]


def handled_by_cluster(files: list[str], options: IOOptions, limit: int, size: int) -> tuple[list, list]:
    """What the replicas would write: each cut batch parsed alone, with no limit."""
    import pickle

    cuts = limit_cuts(input_files(files), IOOptions(**{**options.__dict__, "limit": limit}), None, Done(), size)
    kept, invalid = [], []
    free = IOOptions(**{**options.__dict__, "limit": None})
    for index, last in cuts.items():
        item = {"index": index, "file": pickle.dumps(input_files(files)[index]), "last": last}
        for row in _read_file(item, size):
            run = Run(free, Keep(), None)
            batch, error = parse_batch(run, pickle.loads(row["payload"]))
            kept += [r["id"] for r in batch.records]
            invalid += [run.summary.invalid] if run.summary.invalid else []
            if error is not None:
                return kept, invalid + ["error"]
    return kept, invalid


@pytest.mark.parametrize("size", [1, 2, 3, 100])
@pytest.mark.parametrize("on_error", ["skip", "fail"])
def test_the_cut_lines_are_what_a_local_run_with_that_limit_handles(tmp_path, size, on_error):
    files = inputs(tmp_path)
    for limit in range(0, 11):
        options = IOOptions(inputs=files, output=str(tmp_path / "out.jsonl"), rejects=str(tmp_path / "rej.jsonl"),
                            quiet=True, on_error=on_error, batch_size=size)  # fmt: skip
        failed = False
        try:
            run_step(Keep(), IOOptions(**{**options.__dict__, "limit": limit}))
        except Exception:  # noqa: BLE001 - the bad line under --on-error fail
            failed = True
        local = [orjson.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
        rejected = len((tmp_path / "rej.jsonl").read_bytes().splitlines())
        kept, invalid = handled_by_cluster(files, options, limit, size)
        assert kept == local, (limit, size)
        assert ("error" in invalid) == failed, (limit, size)
        assert sum(i for i in invalid if i != "error") == (0 if failed else rejected), (limit, size)
