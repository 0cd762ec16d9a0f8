"""The deliberate defects of a batch (``generate_batch(..., defects=True)``): which kinds, how
many, the rows that carry them and the ground truth a correct validator reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from qa_pipeline.sample import codes
from qa_pipeline.sample.arrays import (
    NAT,
    Arrays,
    Ctx,
    blank,
    concat,
    days,
    first_of_month,
    no_dates,
    none_ids,
    take,
    uniform_day,
    wd,
)
from qa_pipeline.sample.codes import pick
from qa_pipeline.sample.formats import FormatPlan
from qa_pipeline.sample.schema import CONTRACTS, EXTRACTS, SETTINGS

__all__ = [
    "DEFECT_KINDS", "IDENTIFYING_KIND", "DefectKind", "Defects", "defects_per_kind",
    "make_defects",
]


class DefectKind(NamedTuple):
    """One kind of deliberately injected defect and how a correct validator reports it."""

    rule_id: str
    extract: str
    column_name: str
    severity: str
    description: str


def _kind(entry: dict[str, str]) -> DefectKind:
    """A defect kind of sample.yaml: its extract, column and severity are its rule's."""
    rule = CONTRACTS.rule_by_id(entry["rule"])
    column = rule.column or entry["column"]
    return DefectKind(rule.rule_id, rule.extract, column, rule.severity, entry["planted"])


DEFECT_KINDS: tuple[DefectKind, ...] = tuple(_kind(d) for d in SETTINGS["defects"])
_ID = SETTINGS["identifying"]  # not a contract rule: the guard's, raised before any rule
IDENTIFYING_KIND = DefectKind(_ID["rule"], _ID["extract"], _ID["column"], _ID["severity"],
                              _ID["planted"])

_UNKNOWN_SOURCES = ("TELEPATHY", "CRYSTAL_BALL", "CARRIER_PIGEON")  # not codes, on purpose
_IMPOSSIBLE = [(31, 2), (30, 2), (31, 4), (31, 6), (31, 9), (31, 11), (29, 2)]

Truth = list[tuple[str, str, str, str, str]]


def defects_per_kind(children: int) -> int:
    """How many defects of each kind ``generate_batch(..., defects=True)`` injects."""
    return 2 if children < 10_000 else 5


class Defects(NamedTuple):
    rows: dict[str, list[Arrays]]
    overrides: dict[str, dict[str, list[str | None]]]
    truth: Truth


class _Planting:
    """What the defect steps share: the stream, the rows so far, the ground truth and the
    orphan children (``host``) that carry the defects of the other extracts."""

    def __init__(self, ctx: Ctx, rng: np.random.Generator, plan: FormatPlan, k: int) -> None:
        self.ctx, self.rng, self.plan, self.k = ctx, rng, plan, k
        self.rows: dict[str, list[Arrays]] = {e: [] for e in EXTRACTS}
        self.overrides: dict[str, dict[str, list[str | None]]] = {}
        self.truth: Truth = []
        self.host: Iterator[int] = iter(())
        self.team_fd = int(ctx.teams["FRONT_DOOR"][0])
        self.team_fw = int(ctx.teams["FIELDWORK"][0])

    def fid(self, ns: str, value: int) -> str:
        prefix, width = self.plan.ids[ns]
        return prefix + str(value).zfill(width)

    def gt(self, kind_id: str, record_id: str) -> None:
        kind = next(d for d in DEFECT_KINDS if d.rule_id == kind_id)
        self.truth.append((kind.extract, record_id, kind.rule_id, kind.column_name,
                           kind.severity))

    def some_days(self, m: int) -> np.ndarray:
        A = self.ctx.as_of
        lo = max(self.ctx.hist_start + 30, A - 700)
        return wd(self.ctx, uniform_day(self.rng, np.full(m, lo), np.full(m, A - 60)), 0)

    def hosts(self, m: int) -> np.ndarray:
        return np.array([next(self.host) for _ in range(m)], dtype=np.int64)


def _orphan_children(ctx: Ctx, rng: np.random.Generator, k: int, ethnicity: bool) -> Arrays:
    age = rng.integers(365, 16 * 365, k)
    return {
        "person_id": ctx.alloc("person", k),
        "person_type": np.full(k, "CHILD"),
        "sex": pick(rng, codes.ORPHAN_SEX, k),
        "date_of_birth": first_of_month(ctx.as_of - age),
        "expected_date_of_birth": no_dates(k),
        "date_of_death": no_dates(k),
        "ethnicity": pick(rng, codes.ETHNICITY, k) if ethnicity else blank(k),
        "disability": np.full(k, "N"),
        "name_recorded": np.full(k, "Y"),
        "dob_recorded": np.full(k, "Y"),
        "address_recorded": np.full(k, "Y"),
        "contact_recorded": np.full(k, "Y"),
    }


def make_defects(
    ctx: Ctx, rng: np.random.Generator, plan: FormatPlan, k: int, with_persons: bool
) -> Defects:
    p = _Planting(ctx, rng, plan, k)
    _persons(p, with_persons)
    refs, group = _referrals(p)
    _assessments(p, refs, group)
    _cp_plans(p)
    _weekend_conferences(p)
    return Defects(rows=p.rows, overrides=p.overrides, truth=p.truth)


def _persons(p: _Planting, with_persons: bool) -> None:
    """Impossible dates of birth, blank ethnicity; and the orphan hosts of the others."""
    ctx, rng, k = p.ctx, p.rng, p.k
    bad_dob = _orphan_children(ctx, rng, k, ethnicity=True)
    missing_eth = _orphan_children(ctx, rng, k, ethnicity=False)
    hosts = _orphan_children(ctx, rng, 7 * k, ethnicity=True)
    p.rows["persons"].append(concat([bad_dob, missing_eth, hosts]))
    iso = p.plan.files["persons"].date_style == "iso"
    dob_over: list[str | None] = []
    for i in range(k):
        d, m = _IMPOSSIBLE[i % len(_IMPOSSIBLE)]
        y = 2009 + (i * 3) % 10
        if (d, m) == (29, 2) and y % 4 == 0:
            y += 1
        dob_over.append(f"{y}-{m:02d}-{d:02d}" if iso else f"{d:02d}/{m:02d}/{y}")
    p.overrides["persons"] = {"date_of_birth": dob_over + [None] * (8 * k)}
    if with_persons:
        for i in range(k):
            p.gt("persons.date_of_birth.invalid_date",
                 p.fid("person", int(bad_dob["person_id"][i])))
        for i in range(k):
            p.gt("persons.ethnicity.missing_for_child",
                 p.fid("person", int(missing_eth["person_id"][i])))
    p.host = iter(hosts["person_id"].tolist())


def _referrals(p: _Planting) -> tuple[Arrays, np.ndarray]:
    """4 groups of k (unknown code, decision missing, duplicated, host), then the duplicates."""
    ctx, rng, k = p.ctx, p.rng, p.k
    m = 4 * k
    rdays = p.some_days(m)
    dt = rdays.astype("datetime64[s]") + rng.integers(9 * 3600, 17 * 3600, m).astype(
        "timedelta64[s]"
    )
    group = np.repeat(np.arange(4), k)
    ref_ids = ctx.alloc("referral", m)
    refs: Arrays = {
        "referral_id": ref_ids,
        "child_id": p.hosts(m),
        "referral_datetime": dt,
        "referral_source": np.where(
            group == 0, np.resize(np.array(_UNKNOWN_SOURCES), m),
            pick(rng, codes.ORPHAN_SOURCE, m),
        ),
        "team_id": np.full(m, p.team_fd),
        "decision_date": wd(ctx, rdays, 1),
        "decision": np.where(group == 1, "", np.where(group == 3, "INITIAL_ASSESSMENT", "NFA")),
        "previous_referrals_checked": np.full(m, "Y"),
        "risk_analysis_recorded": np.full(m, "Y"),
        "management_decision_recorded": np.full(m, "N"),
        "referrer_informed_date": no_dates(m),
    }
    dup_idx = np.nonzero(group == 2)[0]
    dup = take(refs, dup_idx)
    dup["referral_datetime"] = dup["referral_datetime"] + np.timedelta64(60, "s")
    dup["referral_source"] = np.full(k, "HEALTH")
    p.rows["referrals"] += [refs, dup]
    for rid in ref_ids[group == 0].tolist():
        p.gt("referrals.referral_source.unknown_code", p.fid("referral", rid))
    for rid in ref_ids[group == 1].tolist():
        p.gt("referrals.decision.missing", p.fid("referral", rid))
    for rid in ref_ids[dup_idx].tolist():
        p.gt("referrals.duplicate_key", p.fid("referral", rid))
    return refs, group


def _assessments(p: _Planting, refs: Arrays, group: np.ndarray) -> None:
    """k on referrals that do not exist, k completed before they started."""
    ctx, k = p.ctx, p.k
    phantom = ctx.alloc("referral", k)  # allocated, never written
    host_refs = np.nonzero(group == 3)[0]
    a_start = np.concatenate([p.some_days(k), wd(ctx, refs["decision_date"][host_refs], 1)])
    a_done = np.concatenate([np.zeros(k, bool), np.ones(k, bool)])
    a_ids = ctx.alloc("assessment", 2 * k)
    p.rows["assessments"].append({
        "assessment_id": a_ids,
        "referral_id": np.concatenate([phantom, refs["referral_id"][host_refs]]),
        "child_id": np.concatenate([p.hosts(k), refs["child_id"][host_refs]]),
        "assessment_type": np.full(2 * k, "INITIAL"),
        "start_date": a_start,
        "completed_date": np.where(a_done, a_start - 2, NAT),
        "authorised_date": no_dates(2 * k),
        "child_seen": np.where(a_done, "Y", ""),
        "child_seen_alone": np.where(a_done, "N", ""),
        "father_involved": np.where(a_done, "NA", ""),
        "outcome": np.where(a_done, "NFA", ""),
        "team_id": np.full(2 * k, p.team_fw),
        "worker_id": np.full(2 * k, p.team_fw * 1000 + 7),
    })
    for i in range(k):
        p.gt("assessments.referral_id.unresolved_reference", p.fid("assessment", int(a_ids[i])))
    for i in range(k, 2 * k):
        p.gt("assessments.completed_date.before_start_date",
             p.fid("assessment", int(a_ids[i])))


def _cp_plans(p: _Planting) -> None:
    """A second plan starting while the first is still open."""
    ctx, rng, k, A = p.ctx, p.rng, p.k, p.ctx.as_of
    p_child = p.hosts(k)
    first_start = p.some_days(k) - 30
    second_start = first_start + rng.integers(20, 50, k)
    first_end = np.where(rng.random(k) < 0.5, NAT, np.minimum(second_start + 60, A))
    p_ids = ctx.alloc("cp_plan", 2 * k)
    p.rows["cp_plans"].append({
        "cp_plan_id": p_ids,
        "child_id": np.concatenate([p_child, p_child]),
        "start_date": np.concatenate([first_start, second_start]),
        "end_date": np.concatenate([first_end, no_dates(k)]),
        "category": np.full(2 * k, "NEGLECT"),
        "initial_conference_id": none_ids(2 * k),
        "team_id": np.full(2 * k, p.team_fw),
    })
    for i in range(k, 2 * k):
        p.gt("cp_plans.overlap", p.fid("cp_plan", int(p_ids[i])))


def _weekend_conferences(p: _Planting) -> None:
    """TRANSFER_IN conferences held at a weekend."""
    ctx, k = p.ctx, p.k
    w_child = p.hosts(k)
    w_day = p.some_days(k)
    weekday = (days(w_day - np.datetime64("1970-01-05")) % 7)  # Monday = 0
    w_day = w_day + (5 - weekday) + np.where(np.arange(k) % 2 == 1, 1, 0) - 7
    c_ids = ctx.alloc("conference", k)
    p.rows["cp_conferences"].append({
        "conference_id": c_ids,
        "child_id": w_child,
        "conference_type": np.full(k, "TRANSFER_IN"),
        "conference_date": w_day,
        "strategy_id": none_ids(k),
        "outcome": np.full(k, "PLAN_CONTINUES"),
        "team_id": np.full(k, p.team_fw),
    })
    for i in range(k):
        p.gt("cp_conferences.conference_date.weekend",
             f"{p.fid('conference', int(c_ids[i]))}|{p.fid('person', int(w_child[i]))}")
