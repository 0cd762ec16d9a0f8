"""The generator is built from the contracts, the calendar module and the CLI (issue 13 point 7):
its extracts, columns and codes are the contracts', its bank holidays the calendar's, and its
arguments the `qa-pipeline generate-sample` command's."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from qa_pipeline.sample import codes
from qa_pipeline.sample.arrays import business_calendar
from qa_pipeline.sample.cases import gen_chunk
from qa_pipeline.sample.formats import format_plan, to_frame
from qa_pipeline.sample.generate import EXTRACTS, SCHEMA, generate_batch
from qa_pipeline.sample.schema import ID_NAMESPACES, id_namespace
from qa_pipeline.spec.contracts import load_contracts, packaged_contracts_path
from qa_pipeline.transform.calendar import bank_holidays

CONTRACTS = load_contracts(packaged_contracts_path())
SAMPLE = Path(__file__).resolve().parents[2] / "src" / "qa_pipeline" / "sample"


def _columns(extract: str) -> list[str]:
    return list(CONTRACTS.extracts[extract].columns)


def test_the_extracts_and_columns_are_the_contracts() -> None:
    assert list(EXTRACTS) == list(CONTRACTS.extracts)
    for name, extract in CONTRACTS.extracts.items():
        assert [c for c, _ in SCHEMA[name]] == _columns(name)
        assert [k.split(":")[0] for _, k in SCHEMA[name]] == [
            c.type for c in extract.columns.values()
        ]


def test_every_id_column_has_a_formatted_id_space() -> None:
    used = {id_namespace(CONTRACTS, e, c.name) for e, x in CONTRACTS.extracts.items()
            for c in x.columns.values() if c.type == "id"}
    assert used == set(ID_NAMESPACES)
    assert id_namespace(CONTRACTS, "conference_attendance", "child_id") == "person"
    assert id_namespace(CONTRACTS, "cp_plans", "initial_conference_id") == "conference"


@pytest.mark.parametrize("extract,column,weights", codes.WEIGHTED,
                         ids=[f"{e}.{c}" for e, c, _ in codes.WEIGHTED])
def test_every_weighted_code_is_in_the_contracts_code_list(
    extract: str, column: str, weights: codes.Weights
) -> None:
    allowed = CONTRACTS.extracts[extract].columns[column].allowed_values
    assert allowed, f"{extract}.{column} has no code or flag list"
    assert set(weights) - {""} <= set(allowed)


def test_a_chunk_gives_every_contract_column_in_contract_order() -> None:
    from qa_pipeline.sample.generate import batch_context

    ctx = batch_context(5, date(2026, 11, 25), 3)
    chunk = gen_chunk(ctx, np.random.default_rng([5, 0]), 400)
    plan = format_plan(5)
    for extract in EXTRACTS[1:]:
        frame = to_frame(extract, chunk[extract], plan, np.random.default_rng(1))
        assert frame.columns == _columns(extract), extract
        assert frame.height > 0, extract


def _normal(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    text = raw.decode("cp1252") if path.name == "teams.csv" else raw.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_files_hold_every_contract_column_and_only_contract_codes(tmp_path: Path) -> None:
    batch = generate_batch(tmp_path, children=300, seed=8, as_of=date(2026, 11, 25))
    for extract, contract in CONTRACTS.extracts.items():
        header, *rows = _read(batch / f"{extract}.csv")
        names = [_normal(h) for h in header]
        assert sorted(names) == sorted(_columns(extract)), extract
        for column in contract.columns.values():
            if column.type not in ("code", "flag"):
                continue
            allowed = {v.upper() for v in column.allowed_values}
            if column.type == "flag":  # Yes / no / YES are the delivered Y and N
                allowed |= {"YES", "NO"}
            i = names.index(column.name)
            seen = {row[i].strip().upper() for row in rows} - {""}
            assert seen <= allowed, f"{extract}.{column.name}: {sorted(seen - allowed)}"


def test_the_working_days_use_the_calendars_bank_holidays() -> None:
    cal = business_calendar(2019, 2027)
    assert [str(d) for d in cal.holidays] == [d.isoformat() for d in bank_holidays(2019, 2027)]
    for path in SAMPLE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"holidays", "argparse"}, path.name


def test_the_arguments_are_the_clis() -> None:
    import qa_pipeline.sample.generate as generate

    assert not hasattr(generate, "main")
    from qa_pipeline.cli.main import parser

    sub = next(a for a in parser()._actions if a.dest == "command")
    gen = sub.choices["generate-sample"]  # type: ignore[attr-defined]
    options = {o for a in gen._actions for o in a.option_strings}
    assert {"--children", "--seed", "--as-of", "--years", "--defects",
            "--identifying", "--nights", "--change-rate", "--new-rate",
            "--delete-rate"} <= options
