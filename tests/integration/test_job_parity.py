"""One control flow: `qa-pipeline run` and the Prefect flow run the same steps
(`pipeline.run_job`), so the same landing folder gives the same exit status, `pipeline_run`,
`dq_issue` and case tables through both."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main as cli_main
from qa_pipeline.load.db import history_table_name, make_engine, metadata
from qa_pipeline.ops import job as pipeline
from qa_pipeline.spec.contracts import load_contracts
from tests.batch_builder import AS_OF, base, csv_text, write_batch

pytestmark = pytest.mark.prefect

GOOD, REJECTED, HELD, BROKEN = (AS_OF - timedelta(days=d) for d in (4, 3, 2, 1))


def landing_of_every_kind(root: Path) -> Path:
    """A good batch, a batch with a rejected file, a held batch (referrals fell to none), a
    batch the code fails on, and a folder dated in the future."""
    landing = root / "landing"
    write_batch(landing, base(), as_of=GOOD)
    rejected = base()
    for r in rejected["persons"]:
        r["Surname"] = "x"  # identifying: persons.csv rejected, exit 3
    write_batch(landing, rejected, as_of=REJECTED)
    held = write_batch(landing, base(), as_of=HELD)
    (held / "referrals.csv").write_text(
        csv_text(base()["referrals"]).splitlines()[0] + "\n", encoding="utf-8")
    write_batch(landing, base(), as_of=BROKEN)
    write_batch(landing, base(), as_of=date.today() + timedelta(days=5))
    return landing


def _break_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline.derive_batch

    def derive(manifest: Any) -> Any:
        if manifest.as_of == BROKEN:
            raise RuntimeError("a fault in the code")
        return real(manifest)

    monkeypatch.setattr(pipeline, "derive_batch", derive)


def _state(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(db_url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        runs = metadata.tables["pipeline_run"]
        out["pipeline_run"] = sorted(tuple(r) for r in conn.execute(sa.select(
            runs.c.as_of, runs.c.status, runs.c.exit_code, runs.c.message, runs.c.published,
            runs.c.rows_read, runs.c.rows_loaded, runs.c.rows_quarantined)))
        issues = metadata.tables["dq_issue"]
        cols = [c for c in issues.c if c.name not in ("issue_id", "run_id")]
        out["dq_issue"] = sorted((tuple(r) for r in conn.execute(sa.select(*cols))), key=repr)
        for e in load_contracts().extracts.values():
            t = metadata.tables[history_table_name(e.name)]
            out[e.name] = sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
        holds = metadata.tables["batch_hold"]
        out["batch_hold"] = sorted(tuple(r) for r in conn.execute(
            sa.select(holds.c.as_of, holds.c.status, holds.c.reason)))
    engine.dispose()
    return out


def test_cli_and_flow_give_the_same_night(prefect_harness: None, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.nightly as nightly_mod

    landing = landing_of_every_kind(tmp_path)
    _break_one_batch(monkeypatch)
    urls = {}
    codes = {}
    for side, run in (("cli", cli_main), ("flow", nightly_mod.main)):
        monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / side / "holds"))
        urls[side] = f"sqlite:///{tmp_path / side / 'qa.db'}"
        args = [str(landing), "--db", urls[side], "--work-dir", str(tmp_path / side / "work")]
        codes[side] = run(["run", *args] if side == "cli" else args)
    assert codes == {"cli": 1, "flow": 1}  # the worst of the night: a batch failed
    cli, flow = _state(urls["cli"]), _state(urls["flow"])
    assert cli == flow
    statuses = [(r[0], r[1], r[2]) for r in cli["pipeline_run"]]
    assert statuses == [(GOOD, "succeeded", 0), (REJECTED, "succeeded_with_issues", 3),
                        (HELD, "succeeded_with_issues", 3), (BROKEN, "failed", 1)]
    assert [h[:2] for h in cli["batch_hold"]] == [(HELD, "held")]
    assert "a fault in the code" in cli["pipeline_run"][-1][3]
    # Nothing staged is left behind by either (the held batch waits in its hold folder).
    for side in ("cli", "flow"):
        assert not any((tmp_path / side / "work").iterdir())


def test_a_refused_folder_alone_gives_exit_3_through_both(prefect_harness: None,
                                                           tmp_path: Path) -> None:
    import flows.nightly as nightly_mod

    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=date.today() + timedelta(days=5))
    for side in ("cli", "flow"):
        args = [str(landing), "--db", f"sqlite:///{tmp_path / side / 'qa.db'}"]
        code = cli_main(["run", *args]) if side == "cli" else nightly_mod.main(args)
        assert code == 3, side
