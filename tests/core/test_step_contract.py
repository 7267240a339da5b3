"""Every outcome a step returns is checked: a record is written, rejected or (aggregates only)
consumed, never lost; anything else stops the run with exit 70 naming the step."""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import pytest
import typer

from llmkit import Chain, IOOptions, Reject, Step, io_options, run_step
from llmkit.plugins import PluginInfo
from llmkit.step import StepContractError
from tests.core.helpers import read_jsonl, write_jsonl


class Returns(Step):
    """Returns ``make(record)`` for every record (or the whole list ``make`` builds)."""

    def __init__(self, name, make=None, whole=None, aggregate=False):
        self.name = name
        self.make = make
        self.whole = whole
        self.aggregate = aggregate

    def process(self, records):
        if self.whole is not None:
            return self.whole(records)
        return [self.make(r) for r in records]


def run(tmp_path, step, count=4):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "n": i} for i in range(count)])
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    summary = run_step(step, IOOptions(inputs=[str(path)], output=str(out), rejects=str(rejects), quiet=True))
    return summary, read_jsonl(out), read_jsonl(rejects)


def test_none_from_a_step_that_does_not_aggregate_stops_the_run_naming_it(tmp_path):
    step = Returns("dropper", lambda r: None if r["n"] == 2 else r)
    with pytest.raises(StepContractError, match="step 'dropper' returned None for record 3") as error:
        run(tmp_path, step)
    assert error.value.exit_code == 70


def test_none_from_an_aggregate_step_consumes_the_record(tmp_path):
    summary, out, rejects = run(tmp_path, Returns("agg", lambda r: None, aggregate=True))
    assert out == [] and rejects == [] and summary.read == 4


@pytest.mark.parametrize("kind", [OrderedDict, lambda r: defaultdict(list, r)])
def test_dict_subclasses_are_written_like_dicts(tmp_path, kind):
    step = Returns("sub", lambda r: kind({**r, "seen": True}) if r["n"] % 2 else {**r, "seen": True})
    summary, out, _ = run(tmp_path, step)
    assert out == [{"id": i, "n": i, "seen": True} for i in range(4)]
    assert summary.read == summary.written == 4


def test_dict_subclasses_among_rejects_are_written(tmp_path):
    step = Returns("mixed", lambda r: Reject("odd") if r["n"] % 2 else OrderedDict(r))
    summary, out, rejects = run(tmp_path, step)
    assert [r["n"] for r in out] == [0, 2] and [r["n"] for r in rejects] == [1, 3]
    assert summary.written == 2 and summary.rejected == {"odd": 2}


@pytest.mark.parametrize(
    "whole, problem",
    [
        (lambda records: records[:-1], "returned 3 outcomes for 4 records"),
        (lambda records: records + records[:1], "returned 5 outcomes for 4 records"),
        (lambda records: None, "returned NoneType from process()"),
        (lambda records: [("a", r) for r in records], "returned a tuple for record 1"),
    ],
)
def test_a_wrong_outcome_list_names_the_step(tmp_path, whole, problem):
    with pytest.raises(StepContractError, match=f"step 'broken' {problem.replace('(', '[(]').replace(')', '[)]')}"):
        run(tmp_path, Returns("broken", whole=whole))


def test_a_step_inside_a_chain_is_checked_and_named(tmp_path):
    keep = Returns("keep", lambda r: r)
    dropper = Returns("inner", lambda r: None)
    with pytest.raises(StepContractError, match="step 'inner' returned None"):
        run(tmp_path, Chain([keep, dropper]))
    short = Returns("short", whole=lambda records: records[1:])
    with pytest.raises(StepContractError, match="step 'short' returned 3 outcomes for 4 records"):
        run(tmp_path, Chain([keep, short]))


def test_a_chain_with_an_aggregate_may_consume_records(tmp_path):
    chain = Chain([Returns("keep", lambda r: OrderedDict(r)), Returns("agg", lambda r: None, aggregate=True)])
    summary, out, _ = run(tmp_path, chain)
    assert chain.aggregate and out == [] and summary.read == 4


def test_the_cli_exits_70_with_the_step_named(tmp_path, capfdbinary):
    app = typer.Typer()

    @app.command()
    @io_options
    def lose(io: IOOptions) -> None:
        run_step(Returns("loser", lambda r: None), io)

    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1}])
    from llmkit.cli import run as run_cli

    status = run_cli(["lose", "-i", str(path)], plugins=[PluginInfo("lose", "tests", "0", "", obj=app)])
    err = capfdbinary.readouterr().err
    assert status == 70 and b"step 'loser' returned None" in err and b"Traceback" not in err
