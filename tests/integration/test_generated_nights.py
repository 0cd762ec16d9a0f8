"""``generate-sample --nights``: consecutive nightly snapshots of one evolving caseload. Each
night the validator raises exactly that night's ground truth, ids are stable, records change,
appear and go, and planted defects are fixed while new ones are planted."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.cli.main import main
from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.sample.formats import format_plan, read_file
from qa_pipeline.sample.generate import generate_batch
from qa_pipeline.sample.nights import Rates, generate_nights

KEY = ["extract", "record_id", "rule_id", "column_name", "severity"]
AS_OF = date(2026, 11, 25)
NIGHTS = 3
SEED = 11


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("nights")
    batches = generate_nights(root / "landing", nights=NIGHTS, children=400, seed=SEED,
                              as_of=AS_OF, defects=True,
                              rates=Rates(change=0.05, new=0.02, delete=0.01))
    return root, batches


def _truth(landing: Path, day: date) -> pl.DataFrame:
    return pl.read_csv(landing / f"{day}.ground_truth.csv", infer_schema=False).select(KEY)


def _staged(batch: Path, work: Path, extract: str) -> pl.DataFrame:
    """An extract as the pipeline loaded it (trimmed, typed)."""
    m = stage_batch(batch, work)
    return pl.read_parquet(m.extracts[extract].parquet)


def _key(extract: str) -> str:
    return {"referrals": "referral_id", "persons": "person_id", "cp_plans": "cp_plan_id",
            "assessments": "assessment_id", "cin_plans": "cin_plan_id",
            "relationships": "relationship_id", "cin_reviews": "review_id"}[extract]


def test_the_nights_are_consecutive_days_each_with_its_ground_truth(
        run: tuple[Path, list[Path]]) -> None:
    root, batches = run
    days = [AS_OF + timedelta(days=i) for i in range(NIGHTS)]
    assert [b.name for b in batches] == [d.isoformat() for d in days]
    for d, b in zip(days, batches, strict=True):
        assert sorted(p.name for p in b.iterdir()) == sorted(
            p.name for p in batches[0].iterdir())
        assert (root / "landing" / f"{d}.ground_truth.csv").is_file()


def test_each_night_raises_exactly_its_ground_truth(run: tuple[Path, list[Path]]) -> None:
    root, batches = run
    for i, batch in enumerate(batches):
        m = stage_batch(batch, root / f"work{i}")
        got = pl.read_parquet(m.issues_parquet).select(KEY)
        truth = _truth(root / "landing", AS_OF + timedelta(days=i))
        assert truth.height > 0
        assert got.sort(KEY).to_dicts() == truth.sort(KEY).to_dicts(), batch.name


def test_some_defects_fixed_and_new_ones_planted(run: tuple[Path, list[Path]]) -> None:
    root, _ = run
    rows = [set(_truth(root / "landing", AS_OF + timedelta(days=i)).iter_rows())
            for i in range(NIGHTS)]
    for before, after in zip(rows, rows[1:], strict=False):
        assert before - after, "no defect fixed"
        assert after - before, "no defect planted"
        assert before & after, "every defect fixed at once"


def test_first_night_is_the_single_batch(run: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, batches = run
    one = generate_batch(tmp_path, children=400, seed=SEED, as_of=AS_OF, defects=True)
    for f in one.iterdir():
        assert f.read_bytes() == (batches[0] / f.name).read_bytes(), f.name


def _frames(run: tuple[Path, list[Path]], extract: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    root, batches = run
    return (_staged(batches[0], root / "s0", extract),
            _staged(batches[1], root / "s1", extract))


@pytest.mark.parametrize("extract", ["referrals", "persons", "assessments", "cp_plans",
                                     "cin_plans", "relationships"])
def test_ids_stable_changed_records_keep_their_id(run: tuple[Path, list[Path]],
                                                  extract: str) -> None:
    one, two = _frames(run, extract)
    key = _key(extract)
    one, two = one.unique(key, keep="first"), two.unique(key, keep="first")
    both = one.join(two, on=key, suffix="_2")
    assert both.height > 0.9 * one.height  # most records are still there, by the same id
    cols = [c for c in one.columns if c not in (key, "source_row") and c in two.columns]
    changed = both.filter(pl.any_horizontal(
        [pl.col(c).ne_missing(pl.col(f"{c}_2")) for c in cols]))
    if extract in ("referrals", "persons", "assessments"):  # enough rows to be sure
        assert changed.height > 0, "no record changed"
        assert changed.height < 0.3 * both.height  # the rest unchanged


def test_decisions_recorded_and_plans_closed(run: tuple[Path, list[Path]]) -> None:
    one, two = _frames(run, "referrals")
    both = one.join(two, on="referral_id", suffix="_2")
    decided = both.filter(pl.col("decision_date").is_null()
                          & pl.col("decision_date_2").is_not_null())
    night2 = AS_OF + timedelta(days=1)
    assert decided.height > 0
    assert decided["decision_date_2"].to_list() == [night2] * decided.height
    assert decided["decision_2"].is_not_null().all()
    closed = 0
    for extract in ("cin_plans", "cp_plans"):
        one, two = _frames(run, extract)
        both = one.join(two, on=_key(extract), suffix="_2")
        ended = both.filter(pl.col("end_date").is_null() & pl.col("end_date_2").is_not_null())
        assert ended["end_date_2"].to_list() == [night2] * ended.height
        closed += ended.height
    assert closed > 0, "no plan closed"


def _raw(batch: Path, extract: str) -> pl.DataFrame:
    """An extract as delivered (every row, quarantined or not), values trimmed."""
    frame = read_file(batch / f"{extract}.csv", extract, format_plan(SEED).files[extract])
    return frame.with_columns(pl.all().str.strip_chars())


def test_deleted_records_gone_new_ones_fresh(run: tuple[Path, list[Path]]) -> None:
    _, batches = run
    for extract in ("referrals", "persons"):
        one, two = _raw(batches[0], extract), _raw(batches[1], extract)
        key = _key(extract)
        gone = set(one[key]) - set(two[key])
        new = set(two[key]) - set(one[key])
        assert new, extract
        # new ids continue the id space: none is an id seen before, all above the old ones
        digits = pl.col(key).str.extract(r"(\d+)$").cast(pl.Int64)
        top = one.select(digits.max()).item()
        fresh = two.filter(pl.col(key).is_in(list(new))).select(digits.min()).item()
        assert fresh > top
        if extract == "referrals":
            assert gone, "no referral deleted"
            # a deleted referral had nothing naming it: no dangling reference next night
            asm = _raw(batches[1], "assessments")
            assert not set(asm["referral_id"].drop_nulls()) & gone


def test_no_change_gives_the_same_bytes(tmp_path: Path) -> None:
    """Rates 0 and no defects: night 2 is night 1 again, byte for byte (unchanged records
    are written exactly as delivered, whatever their format)."""
    batches = generate_nights(tmp_path, nights=2, children=300, seed=4, as_of=AS_OF,
                              rates=Rates(0, 0, 0))
    for f in batches[0].iterdir():
        assert f.read_bytes() == (batches[1] / f.name).read_bytes(), f.name
    assert not list(tmp_path.glob("*.ground_truth.csv"))


def test_deterministic(tmp_path: Path) -> None:
    args = dict(nights=2, children=200, seed=5, as_of=AS_OF, defects=True)
    a = generate_nights(tmp_path / "a", **args)  # type: ignore[arg-type]
    b = generate_nights(tmp_path / "b", **args)  # type: ignore[arg-type]
    for f in a[1].iterdir():
        assert f.read_bytes() == (b[1] / f.name).read_bytes(), f.name


@pytest.mark.parametrize("nights,rates", [(0, Rates()), (2, Rates(change=1.0)),
                                          (2, Rates(new=-0.1)), (2, Rates(delete=1.5))])
def test_arguments_checked(tmp_path: Path, nights: int, rates: Rates) -> None:
    with pytest.raises(ValueError):
        generate_nights(tmp_path, nights=nights, children=10, seed=1, as_of=AS_OF,
                        rates=rates)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--nights", "0"], "--nights must be at least 1"),
    (["--nights", "2", "--change-rate", "1"], "--change-rate must be at least 0 and below 1"),
    (["--nights", "2", "--new-rate", "-0.5"], "--new-rate must be at least 0 and below 1"),
    (["--delete-rate", "2"], "--delete-rate must be at least 0 and below 1"),
    (["--nights", "2", "--identifying"], "--identifying is for one batch"),
])
def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          args: list[str], message: str) -> None:
    code = main(["generate-sample", str(tmp_path / "out"), "--children", "20", *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_writes_one_line_per_night(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    code = main(["generate-sample", str(tmp_path), "--children", "30", "--nights", "3",
                 "--change-rate", "0.02", "--new-rate", "0.01", "--delete-rate", "0.005"])
    assert code == 0
    days = [(AS_OF + timedelta(days=i)).isoformat() for i in range(3)]
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / d}" for d in days]
    assert sorted(p.name for p in tmp_path.iterdir()) == days
