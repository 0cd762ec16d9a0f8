"""Consecutive nightly batches of one evolving caseload (``generate-sample --nights N``).

A Paris extract is a full snapshot every night (``shared/spec/extracts.md``), so a run of nights
is N snapshots of the same caseload on consecutive calendar days (a nightly extract runs at
weekends too), each record keeping its id from night to night.

Night 1 is exactly :func:`qa_pipeline.sample.generate.generate_batch` (the same bytes as without
``--nights``). Every later night is derived from the one before, *as delivered*: its twelve
files are read back as strings (:func:`qa_pipeline.sample.formats.read_file`) and edited with
polars, so a record nobody touched is written with the very same bytes (same id, same date
style, same padding), and only what changed is formatted again, in its file's style:

- **deleted** (``delete_rate`` of the records): leaf records only - conference attendance rows,
  CIN reviews, Family Intervention referrals, relationships and referrals that no assessment or
  strategy discussion names - so no reference is left dangling;
- **changed** (``change_rate``): the case moves on - a decision recorded on an undecided
  referral (with its three flags), an open assessment completed or a completed one
  authorised, a CIN plan closed (with its closure outcome), a CP plan closed (end date set),
  an ONGOING section 47 concluded - or a field corrected (a flag such as
  ``address_recorded``, ``lives_with_child``, a CP plan's category). Every change gives a
  record that is valid against the specification; the date set is the night's date;
- **new** (``new_rate``): about half of them new referrals (undecided, referred that night) of
  existing children, the rest new children with their families, referred that night
  (:func:`qa_pipeline.sample.cases.gen_chunk` with a one-day history). New ids continue each id
  space after the highest id ever used, so no id is reused, even a deleted one's;
- **planted defects** (with ``defects``): half of the night before's, rounded up, are fixed
  (the row corrected: a valid date of birth, an ethnicity, a known source, a decision, a
  completed date on the start date, a conference moved to the Friday before; or the offending
  row deleted: the later duplicate, the assessment of a referral that does not exist, the
  overlapping plan), and half the usual number of each kind (at least one) are planted anew
  (:func:`qa_pipeline.sample.defects.make_defects`). The records that carry defects - the
  orphan children of the defects and everything naming them - are never changed or deleted
  otherwise, so each night's ``<date>.ground_truth.csv`` lists exactly that night's issues.

The rates are shares of the night before's records (teams left out), rounded; each night
draws from its own random stream (the seed and the night's number), so the output is a pure
function of the arguments. ``identifying`` is for one batch only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from qa_pipeline.sample import codes
from qa_pipeline.sample.arrays import Arrays, Ctx, blank, no_dates
from qa_pipeline.sample.cases import gen_chunk
from qa_pipeline.sample.codes import pick
from qa_pipeline.sample.defects import Truth, defects_per_kind, make_defects
from qa_pipeline.sample.formats import (
    CsvSink,
    FormatPlan,
    date_text,
    format_plan,
    read_file,
    to_frame,
)
from qa_pipeline.sample.generate import batch_context, generate_batch, write_truth
from qa_pipeline.sample.schema import EXTRACTS, SCHEMA

__all__ = ["FIX_SHARE", "Rates", "check_nights", "generate_nights"]

FIX_SHARE = 0.5
"""The share of the night before's planted defects fixed each night (rounded up)."""


@dataclass(frozen=True)
class Rates:
    """Shares of the night before's records changed, new and deleted each night."""

    change: float = 0.01
    new: float = 0.005
    delete: float = 0.001


def check_nights(nights: int, rates: Rates) -> None:
    """ValueError naming the argument if ``nights`` < 1 or a rate is outside [0, 1)."""
    if nights < 1:
        raise ValueError("nights must be at least 1")
    for name, rate in (("change", rates.change), ("new", rates.new),
                       ("delete", rates.delete)):
        if not 0 <= rate < 1:
            raise ValueError(f"{name} rate must be at least 0 and below 1 (got {rate})")


def generate_nights(
    out_root: Path,
    *,
    nights: int,
    children: int,
    seed: int,
    as_of: date,
    defects: bool = False,
    years: int = 3,
    chunk_children: int = 50_000,
    rates: Rates = Rates(),  # noqa: B008 - frozen
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write ``nights`` batches ``out_root/<as_of + i days>/`` (i = 0 .. nights - 1); return them.

    The first is ``generate_batch(out_root, children=..., seed=..., as_of=..., defects=...)``
    byte for byte; each later one the night before's caseload moved on (module docstring).
    With ``defects`` each night has its own ``out_root/<date>.ground_truth.csv``.
    ``progress`` is called with each batch folder once it is written.
    """
    check_nights(nights, rates)
    out_root = Path(out_root)
    first = generate_batch(out_root, children=children, seed=seed, as_of=as_of,
                           defects=defects, years=years, chunk_children=chunk_children)
    batches = [first]
    if progress is not None:
        progress(first)
    if nights == 1:
        return batches
    plan = format_plan(seed)
    frames = {e: read_file(first / f"{e}.csv", e, plan.files[e]) for e in EXTRACTS}
    truth = _read_truth(out_root / f"{as_of.isoformat()}.ground_truth.csv") if defects else []
    state = _State(frames, truth, _counters(frames, plan, batch_context(seed, as_of, years)))
    k_new = max(1, defects_per_kind(children) // 2)
    for i in range(1, nights):
        day = as_of + timedelta(days=i)
        ctx = batch_context(seed, day, years)
        ctx.counters = state.counters  # one set of id counters for the whole run
        _next_night(state, plan, ctx, np.random.default_rng([seed, 0x4E16, i]), rates,
                    k_new if defects else 0)
        batches.append(_write_night(out_root, day, state, plan, defects))
        if progress is not None:
            progress(batches[-1])
    return batches


@dataclass
class _State:
    frames: dict[str, pl.DataFrame]  # extract -> delivered strings, canonical column names
    truth: Truth  # the planted defects still there
    counters: dict[str, int]  # id space -> next id


def _read_truth(path: Path) -> Truth:
    frame = pl.read_csv(path, infer_schema=False)
    return [tuple(r) for r in frame.iter_rows()]  # type: ignore[misc]


# ------------------------------------------------------------------ reading delivered values


def _text(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars()


def _code(col: str) -> pl.Expr:
    return _text(col).str.to_uppercase()


def _flag(col: str) -> pl.Expr:
    v = _code(col)
    return pl.when(v == "YES").then(pl.lit("Y")).when(v == "NO").then(pl.lit("N")).otherwise(v)


def _id(col: str, plan: FormatPlan, space: str) -> pl.Expr:
    prefix = plan.ids[space][0]
    return _text(col).str.strip_prefix(prefix).cast(pl.Int64, strict=False)


def _space(extract: str, col: str) -> str:
    kind = dict(SCHEMA[extract])[col]
    return kind.removeprefix("id:")


def _counters(frames: dict[str, pl.DataFrame], plan: FormatPlan, ctx: Ctx) -> dict[str, int]:
    """The next id of each space: after the highest id delivered (or the space's first id)."""
    counters = dict(ctx.counters)
    for e, frame in frames.items():
        for col, kind in SCHEMA[e]:
            if kind.startswith("id:") and frame.height:
                top = frame.select(_id(col, plan, kind[3:]).max()).item()
                if top is not None:
                    counters[kind[3:]] = max(counters[kind[3:]], int(top) + 1)
    return counters


def _orphans(frames: dict[str, pl.DataFrame], plan: FormatPlan) -> pl.Series:
    """The children with no relationship: the defects' orphans (a generated child has a
    mother); they and every record naming them are left to the defect steps."""
    kids = frames["persons"].filter(_code("person_type") == "CHILD").select(
        _id("person_id", plan, "person").alias("id"))
    related = frames["relationships"].select(_id("child_id", plan, "person").alias("id"))
    return kids.join(related, on="id", how="anti")["id"]


def _free(frames: dict[str, pl.DataFrame], plan: FormatPlan, e: str, orphans: pl.Series
          ) -> np.ndarray:
    """The rows of ``e`` that carry no defect (teams: none is ever edited)."""
    frame = frames[e]
    if e == "teams":
        return np.zeros(frame.height, dtype=bool)
    col = "person_id" if e == "persons" else "child_id"
    out: np.ndarray = frame.select(
        ~_id(col, plan, "person").is_in(orphans.implode())).to_series().to_numpy()
    return out


def _pick_rows(rng: np.random.Generator, pools: dict[str, np.ndarray], n: int
               ) -> dict[str, np.ndarray]:
    """n rows drawn uniformly from all the pools together: extract -> mask of its rows."""
    idx = {e: np.nonzero(p)[0] for e, p in pools.items()}
    total = sum(len(i) for i in idx.values())
    chosen = np.sort(rng.choice(total, size=min(n, total), replace=False))
    out: dict[str, np.ndarray] = {}
    start = 0
    for e, rows in idx.items():
        mask = np.zeros(len(pools[e]), dtype=bool)
        sel = chosen[(chosen >= start) & (chosen < start + len(rows))] - start
        mask[rows[sel]] = True
        out[e] = mask
        start += len(rows)
    return out


# ------------------------------------------------------------------ one night


def _next_night(state: _State, plan: FormatPlan, ctx: Ctx, rng: np.random.Generator,
                rates: Rates, k_new: int) -> None:
    frames = state.frames
    total = sum(f.height for e, f in frames.items() if e != "teams")
    orphans = _orphans(frames, plan)
    _delete(frames, plan, rng, orphans, round(rates.delete * total))
    _change(frames, plan, rng, ctx, orphans, round(rates.change * total))
    _fix_defects(state, plan, rng, ctx)
    _add_new(frames, plan, rng, ctx, orphans, round(rates.new * total))
    if k_new:
        found = make_defects(ctx, rng, plan, k_new, with_persons=True)
        for e in EXTRACTS[1:]:
            parts = [to_frame(e, part, plan, rng, found.overrides.get(e))
                     for part in found.rows[e]]
            _append(frames, e, parts)
        state.truth += found.truth
    for ns, (_, width) in plan.ids.items():
        if state.counters[ns] >= 10**width:
            raise ValueError(f"too many {ns} ids for a {width}-digit id space")


def _append(frames: dict[str, pl.DataFrame], e: str, parts: list[pl.DataFrame]) -> None:
    if parts:
        frames[e] = pl.concat([frames[e], *parts], how="vertical_relaxed")


def _write_night(out_root: Path, day: date, state: _State, plan: FormatPlan,
                 defects: bool) -> Path:
    batch = out_root / day.isoformat()
    batch.mkdir(parents=True, exist_ok=True)
    for e in EXTRACTS:
        sink = CsvSink(batch / f"{e}.csv", e, plan.files[e])
        try:
            sink.write(state.frames[e])
        finally:
            sink.close()
    write_truth(out_root / f"{day.isoformat()}.ground_truth.csv", list(state.truth),
                 defects, False)
    return batch


def _delete(frames: dict[str, pl.DataFrame], plan: FormatPlan, rng: np.random.Generator,
            orphans: pl.Series, n: int) -> None:
    """n leaf records: attendance, CIN reviews, FIT referrals, sibling relationships, and
    referrals no assessment or strategy discussion names."""
    named = pl.concat([frames[e].select(_id("referral_id", plan, "referral").alias("id"))
                       for e in ("assessments", "strategy_discussions")])["id"]
    pools = {e: _free(frames, plan, e, orphans) for e in
             ("conference_attendance", "cin_reviews", "fit_referrals", "relationships")}
    sibling = frames["relationships"].select(_code("relationship_type") == "SIBLING")
    pools["relationships"] &= sibling.to_series().to_numpy()
    unnamed = frames["referrals"].select(
        ~_id("referral_id", plan, "referral").is_in(named.implode())).to_series().to_numpy()
    pools["referrals"] = _free(frames, plan, "referrals", orphans) & unnamed
    for e, mask in _pick_rows(rng, pools, n).items():
        frames[e] = frames[e].filter(pl.Series(~mask))


# ------------------------------------------------------------------ changes


def _toggle(col: str) -> pl.Expr:
    return pl.when(_flag(col) == "Y").then(pl.lit("N")).otherwise(pl.lit("Y"))


_DAY = pl.col("__day")  # the night's date in the file's style
_NEW_CODE = pl.col("__code")  # a code drawn for the row (referrals: the decision)
_Change = tuple[pl.Expr, dict[str, pl.Expr], bool]


def _changes() -> dict[str, list[_Change]]:
    """extract -> (which rows, {column: new value}, the case moves on): the first that applies
    is made. A case moving on (a decision, a completion, a closure) is not a correction."""
    y, n = pl.lit("Y"), pl.lit("N")
    return {
        "persons": [(pl.lit(True), {"address_recorded": _toggle("address_recorded")}, False)],
        "relationships": [(pl.lit(True), {"lives_with_child": pl.when(
            _code("lives_with_child") == "Y").then(n).otherwise(y)}, False)],
        "referrals": [
            (pl.col("decision_date").is_null(), {
                "decision_date": _DAY, "decision": _NEW_CODE,
                "previous_referrals_checked": y, "risk_analysis_recorded": y,
                "management_decision_recorded": y}, True),
            (pl.lit(True), {"risk_analysis_recorded": _toggle("risk_analysis_recorded")},
             False),
        ],
        "assessments": [
            (pl.col("completed_date").is_null(), {
                "completed_date": _DAY, "child_seen": y, "child_seen_alone": n,
                "father_involved": n, "outcome": pl.lit("NFA")}, True),
            (pl.col("authorised_date").is_null(), {"authorised_date": _DAY}, True),
        ],
        "cin_plans": [
            (pl.col("end_date").is_null(),
             {"end_date": _DAY, "closure_outcome": pl.lit("IMPROVED")}, True),
            (pl.lit(True), {"multi_agency_at_start": _toggle("multi_agency_at_start")},
             False),
        ],
        "cin_reviews": [(pl.lit(True), {"progress_recorded": _toggle("progress_recorded")},
                         False)],
        "cp_plans": [
            (pl.col("end_date").is_null(), {"end_date": _DAY}, True),
            (pl.lit(True), {"category": pl.when(_code("category") == "NEGLECT").then(
                pl.lit("EMOTIONAL")).otherwise(pl.lit("NEGLECT"))}, False),
        ],
        "conference_attendance": [(pl.col("report_submitted").is_not_null(),
                                   {"report_submitted": _toggle("report_submitted")}, False)],
        "strategy_discussions": [(_code("s47_outcome") == "ONGOING",
                                  {"s47_outcome": pl.lit("NFA")}, True)],
        "fit_referrals": [(pl.lit(True),
                           {"tasks_outcomes_defined": _toggle("tasks_outcomes_defined")},
                           False)],
    }


def _change(frames: dict[str, pl.DataFrame], plan: FormatPlan, rng: np.random.Generator,
            ctx: Ctx, orphans: pl.Series, n: int) -> None:
    """n records changed: half (rounded up) drawn from the cases that can move on, the rest
    from every record some change applies to."""
    changes = _changes()
    moving: dict[str, np.ndarray] = {}
    pools: dict[str, np.ndarray] = {}
    for e, cases in changes.items():
        free = _free(frames, plan, e, orphans)
        for name, conds, out in (("__on", [c for c, _, on in cases if on], moving),
                                 ("__a", [c for c, _, _ in cases], pools)):
            if conds:
                which = pl.any_horizontal(conds).fill_null(False).alias(name)
                out[e] = free & frames[e].with_columns(which)[name].to_numpy()
    first = _pick_rows(rng, moving, math.ceil(n / 2))
    for e, mask in first.items():
        pools[e] &= ~mask
    rest = _pick_rows(rng, pools, n - sum(int(m.sum()) for m in first.values()))
    for e in first:
        rest[e] |= first[e]
    day = date.fromisoformat(str(ctx.as_of))
    for e, mask in rest.items():
        h = frames[e].height
        drawn = pick(rng, codes.DECISION_LATER, h) if e == "referrals" else blank(h)
        frame = frames[e].with_columns(
            pl.Series("__m", mask),
            pl.Series("__day", date_text(plan.files[e], day, rng, h), dtype=pl.String),
            pl.Series("__code", drawn, dtype=pl.String),
        )
        done = pl.lit(False)
        updates: dict[str, pl.Expr] = {}
        for cond, values, _ in changes[e]:
            now = pl.col("__m") & ~done & cond.fill_null(False)
            for col, value in values.items():
                updates[col] = pl.when(now).then(value).otherwise(updates.get(col, pl.col(col)))
            done = done | now
        frames[e] = frame.with_columns(**updates).drop("__m", "__day", "__code")


# ------------------------------------------------------------------ defects fixed


def _fix_defects(state: _State, plan: FormatPlan, rng: np.random.Generator, ctx: Ctx) -> None:
    """FIX_SHARE of the planted defects, rounded up, fixed (module docstring)."""
    live = state.truth
    if not live:
        return
    k = math.ceil(FIX_SHARE * len(live))
    fixed = set(rng.choice(len(live), size=k, replace=False).tolist())
    day = date.fromisoformat(str(ctx.as_of))
    for i in sorted(fixed):
        _fix(state.frames, plan, rng, day, live[i])
    state.truth = [row for i, row in enumerate(live) if i not in fixed]


def _fix(frames: dict[str, pl.DataFrame], plan: FormatPlan, rng: np.random.Generator,
         day: date, row: tuple[str, str, str, str, str]) -> None:
    extract, record_id, rule = row[0], row[1], row[2]
    frame = frames[extract]
    key = SCHEMA[extract][0][0]
    if rule == "cp_conferences.conference_date.weekend":
        conf, child = record_id.split("|")
        target = (_text(key) == conf) & (_text("child_id") == child)
    else:
        target = _text(key) == record_id
    if rule == "referrals.duplicate_key":  # the later row goes
        last = frame.with_row_index("__i").filter(target)["__i"].max()
        frames[extract] = frame.with_row_index("__i").filter(
            pl.col("__i") != last).drop("__i")
        return
    if rule in ("assessments.referral_id.unresolved_reference", "cp_plans.overlap"):
        frames[extract] = frame.filter(~target)
        return
    col, value = _fixed_value(frame.filter(target), plan, rng, day, extract, rule)
    frames[extract] = frame.with_columns(
        pl.when(target).then(value).otherwise(pl.col(col)).alias(col))


def _fixed_value(rows: pl.DataFrame, plan: FormatPlan, rng: np.random.Generator, day: date,
                 extract: str, rule: str) -> tuple[str, pl.Expr]:
    """The column a fix sets and its new value."""
    fmt = plan.files[extract]
    if rule == "persons.date_of_birth.invalid_date":
        dob = date(day.year - 9, day.month, 1)
        return "date_of_birth", pl.lit(str(date_text(fmt, dob, rng, 1)[0]))
    if rule == "persons.ethnicity.missing_for_child":
        return "ethnicity", pl.lit("WBRI")
    if rule == "referrals.referral_source.unknown_code":
        return "referral_source", pl.lit("HEALTH")
    if rule == "referrals.decision.missing":
        return "decision", pl.lit("NFA")
    if rule == "assessments.completed_date.before_start_date":
        return "completed_date", _text("start_date")
    if rule == "cp_conferences.conference_date.weekend":
        text = str(rows["conference_date"][0]).strip()
        held = (date(int(text[6:]), int(text[3:5]), int(text[:2])) if "/" in text
                else date.fromisoformat(text))
        friday = held - timedelta(days=held.weekday() - 4)
        return "conference_date", pl.lit(friday.strftime("%d/%m/%Y") if "/" in text
                                         else friday.isoformat())
    raise ValueError(f"no fix for {rule}")


# ------------------------------------------------------------------ new records


def _add_new(frames: dict[str, pl.DataFrame], plan: FormatPlan, rng: np.random.Generator,
             ctx: Ctx, orphans: pl.Series, n: int) -> None:
    """About n new records: new children and families (half), new referrals (the rest)."""
    per_child = 11  # ~5.5 records per new child, referred today: half of n
    kids = n // per_child if n >= per_child else int(n >= 6)
    made = 0
    if kids:
        chunk = gen_chunk(replace(ctx, hist_start=ctx.as_of - 1), rng, kids)
        for e in EXTRACTS[1:]:
            made += len(next(iter(chunk[e].values())))
            _append(frames, e, [to_frame(e, chunk[e], plan, rng)])
    if n - made > 0:
        refs = _new_referrals(frames, plan, rng, ctx, orphans, n - made)
        _append(frames, "referrals", [to_frame("referrals", refs, plan, rng)])


def _new_referrals(frames: dict[str, pl.DataFrame], plan: FormatPlan,
                   rng: np.random.Generator, ctx: Ctx, orphans: pl.Series, m: int) -> Arrays:
    """m undecided referrals made today of existing children (not the defects' orphans)."""
    persons = frames["persons"]
    kind = persons.select(_code("person_type")).to_series().to_numpy()
    ok = _free(frames, plan, "persons", orphans) & ((kind == "CHILD") | (kind == "UNBORN"))
    pids = persons.select(_id("person_id", plan, "person")).to_series().to_numpy()[ok]
    tod = rng.integers(8 * 3600, 18 * 3600, m)
    front = ctx.teams["FRONT_DOOR"]
    return {
        "referral_id": ctx.alloc("referral", m),
        "child_id": pids[rng.integers(0, len(pids), m)],
        "referral_datetime": ctx.as_of.astype("datetime64[s]") + tod.astype("timedelta64[s]"),
        "referral_source": pick(rng, codes.SOURCE, m),
        "team_id": front[rng.integers(0, len(front), m)],
        "decision_date": no_dates(m),
        "decision": blank(m),
        "previous_referrals_checked": blank(m),
        "risk_analysis_recorded": blank(m),
        "management_decision_recorded": blank(m),
        "referrer_informed_date": no_dates(m),
    }
