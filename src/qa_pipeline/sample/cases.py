"""One chunk's case records: referrals, assessments, CIN plans and reviews, strategy discussions,
child protection conferences and plans, conference attendance and Family Intervention referrals;
and :func:`gen_chunk`, which runs every step of a chunk in the order of its random stream."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa_pipeline.sample import codes, people
from qa_pipeline.sample.arrays import (
    NAT,
    Arrays,
    Ctx,
    chron_ids,
    concat,
    days,
    group_rank,
    none_ids,
    past_spring_gap,
    take,
    uniform_day,
    wd,
    yn,
)
from qa_pipeline.sample.codes import Weights, pick
from qa_pipeline.sample.people import Chunk

__all__ = ["gen_chunk"]


def gen_chunk(ctx: Ctx, rng: np.random.Generator, n: int) -> dict[str, Arrays]:
    """Every extract but teams for ``n`` children (the steps in random-stream order)."""
    s = Chunk(ctx, rng, n)
    for step in (people.children, people.families, people.adults, people.relationships,
                 referrals, initial_assessments, core_assessments, assessments, cin_plans,
                 cin_reviews, strategy_discussions, initial_conferences, transfers_in,
                 conferences, cp_plans, attendance, people.persons, fit_referrals):
        step(s)
    out: dict[str, Arrays] = s.out
    return out


def referrals(s: Chunk) -> None:
    rng, n, A, ctx = s.rng, s.n, s.A, s.ctx
    s.nref = nref = np.where(s.unborn, 1, rng.choice([1, 2, 3], size=n, p=[0.68, 0.22, 0.10]))
    s.rc = rc = np.repeat(np.arange(n), nref)
    nr = len(rc)
    rday = uniform_day(rng, s.earliest[rc], np.full(nr, A))
    office = rng.random(nr) < 0.85
    tod = past_spring_gap(rday, np.where(
        office, rng.integers(8 * 3600, 18 * 3600, nr), rng.integers(0, 24 * 3600, nr)
    ))
    o = np.lexsort((tod, rday, rc))
    s.rday, tod = rday, tod = rday[o], tod[o]
    rank = group_rank(nref)
    is_last = rank == nref[rc] - 1
    dec = np.where(is_last, pick(rng, codes.DECISION_LAST, nr),
                   pick(rng, codes.DECISION_EARLIER, nr))
    lag = np.where(
        rng.random(nr) < 0.94,
        rng.choice([0, 1, 2, 3], size=nr, p=[0.48, 0.35, 0.1, 0.07]),
        rng.integers(4, 16, nr),
    )
    dec_date = wd(ctx, rday, lag)
    awaiting = (dec_date > A) | ((rday >= A - 4) & (rng.random(nr) < 0.4))
    decided = ~awaiting
    s.dec_date = dec_date = np.where(decided, dec_date, NAT)
    s.dec = np.where(decided, dec, "")
    source = pick(rng, codes.SOURCE, nr)
    inf_kind = rng.choice(3, size=nr, p=[0.7, 0.15, 0.15])
    inf_lag = np.where(inf_kind == 0, rng.integers(0, 8, nr), rng.integers(8, 31, nr))
    informed = wd(ctx, dec_date, inf_lag)
    informed = np.where(
        decided & (source != "ANONYMOUS") & (inf_kind < 2) & (informed <= A), informed, NAT
    )
    prev_checked = np.where(rank > 0, yn(rng, 0.75, nr), yn(rng, 0.85, nr))
    ref_team = ctx.teams["FRONT_DOOR"][rng.integers(0, len(ctx.teams["FRONT_DOOR"]), nr)]
    s.ref_id, ref_order = chron_ids(ctx, "referral", tod, rday)
    ref_dt = rday.astype("datetime64[s]") + tod.astype("timedelta64[s]")
    s.out["referrals"] = take({
        "referral_id": s.ref_id,
        "child_id": s.child_pid[rc],
        "referral_datetime": ref_dt,
        "referral_source": source,
        "team_id": ref_team,
        "decision_date": dec_date,
        "decision": s.dec,
        "previous_referrals_checked": np.where(decided, prev_checked, ""),
        "risk_analysis_recorded": np.where(decided, yn(rng, 0.7, nr), ""),
        "management_decision_recorded": np.where(decided, yn(rng, 0.85, nr), ""),
        "referrer_informed_date": informed,
    }, ref_order)


def _completion_fields(s: Chunk, ci: np.ndarray, done: np.ndarray, p_seen: float,
                       outcomes: Weights) -> Arrays:
    rng = s.rng
    k = len(ci)
    seen = np.where(s.unborn[ci], "N", yn(rng, p_seen, k))
    alone = np.where(seen == "Y", yn(rng, 0.55, k), "N")
    fi = np.where(
        s.has_father[s.fam][ci],
        pick(rng, codes.FATHER_INVOLVED, k),
        pick(rng, codes.NO_FATHER_INVOLVED, k),
    )
    return {
        "child_seen": np.where(done, seen, ""),
        "child_seen_alone": np.where(done, alone, ""),
        "father_involved": np.where(done, fi, ""),
        "outcome": np.where(done, pick(rng, outcomes, k), ""),
    }


def _workers(s: Chunk, teams: np.ndarray) -> np.ndarray:
    k = len(teams)
    w = teams * 1000 + s.rng.integers(1, s.ctx.workers_per_team + 1, k)
    out: np.ndarray = np.where(s.rng.random(k) < 0.05, -1, w)
    return out


def initial_assessments(s: Chunk) -> None:
    rng, A, ctx = s.rng, s.A, s.ctx
    ia = np.nonzero(s.dec == "INITIAL_ASSESSMENT")[0]
    ia_start = wd(ctx, s.dec_date[ia], rng.choice([0, 1, 2], size=len(ia), p=[0.5, 0.35, 0.15]))
    keep = ia_start <= A
    s.ia, ia_start = ia, ia_start = ia[keep], ia_start[keep]
    k = len(ia)
    c_lag = np.where(rng.random(k) < 0.72, rng.integers(1, 6, k), rng.integers(6, 16, k))
    ia_comp = wd(ctx, ia_start, c_lag)
    ia_done = (ia_comp <= A) & (rng.random(k) >= 0.03)
    s.ia_comp = ia_comp = np.where(ia_done, ia_comp, NAT)
    ia_child = s.rc[ia]
    s.ia_fields = ia_fields = _completion_fields(s, ia_child, ia_done, 0.88,
                                                 codes.INITIAL_OUTCOME)
    ia_auth = wd(ctx, ia_comp, rng.integers(0, 6, k))
    ia_auth = np.where(ia_done & (rng.random(k) < 0.85) & (ia_auth <= A), ia_auth, NAT)
    s.ia_team = ia_team = s.child_team[ia_child]
    s.asm_ia = {
        "ref": ia,
        "assessment_type": np.full(k, "INITIAL"),
        "start_date": ia_start,
        "completed_date": ia_comp,
        "authorised_date": ia_auth,
        **ia_fields,
        "team_id": ia_team,
        "worker_id": _workers(s, ia_team),
    }


def core_assessments(s: Chunk) -> None:
    rng, A, ctx, ia = s.rng, s.A, s.ctx, s.ia
    cx = np.nonzero(s.ia_fields["outcome"] == "CORE_ASSESSMENT")[0]
    kc = len(cx)
    delay = np.where(rng.random(kc) < 0.7, rng.integers(1, 11, kc), rng.integers(11, 23, kc))
    co_start = wd(ctx, s.ia_comp[cx], delay)
    keep = co_start <= A
    cx, co_start = cx[keep], co_start[keep]
    kc = len(cx)
    c_lag = np.where(rng.random(kc) < 0.75, rng.integers(10, 36, kc), rng.integers(36, 61, kc))
    co_comp = wd(ctx, co_start, c_lag)
    co_done = (co_comp <= A) & (rng.random(kc) >= 0.05)
    co_comp = np.where(co_done, co_comp, NAT)
    co_fields = _completion_fields(s, s.rc[ia[cx]], co_done, 0.95, codes.CORE_OUTCOME)
    co_auth = wd(ctx, co_comp, rng.integers(0, 8, kc))
    co_auth = np.where(co_done & (rng.random(kc) < 0.85) & (co_auth <= A), co_auth, NAT)
    co_team = s.ia_team[cx]
    s.asm_co = {
        "ref": ia[cx],
        "assessment_type": np.full(kc, "CORE"),
        "start_date": co_start,
        "completed_date": co_comp,
        "authorised_date": co_auth,
        **co_fields,
        "team_id": co_team,
        "worker_id": np.where(rng.random(kc) < 0.7, s.asm_ia["worker_id"][cx],
                              _workers(s, co_team)),
    }


def assessments(s: Chunk) -> None:
    s.asm = asm = concat([s.asm_ia, s.asm_co])
    s.asm_id, asm_order = chron_ids(s.ctx, "assessment", asm["start_date"])
    s.asm_child = s.rc[asm["ref"]]
    s.out["assessments"] = take({
        "assessment_id": s.asm_id,
        "referral_id": s.ref_id[asm["ref"]],
        "child_id": s.child_pid[s.asm_child],
        **{c: asm[c] for c in ("assessment_type", "start_date", "completed_date",
                               "authorised_date", "child_seen", "child_seen_alone",
                               "father_involved", "outcome", "team_id", "worker_id")},
    }, asm_order)


def cin_plans(s: Chunk) -> None:
    rng, A, ctx, asm = s.rng, s.A, s.ctx, s.asm
    cp_src = np.nonzero(asm["outcome"] == "CIN_PLAN")[0]
    cin_start = wd(ctx, asm["completed_date"][cp_src], rng.integers(0, 11, len(cp_src)))
    keep = cin_start <= A
    cp_src, s.cin_start = cp_src, cin_start = cp_src[keep], cin_start[keep]
    kp = len(cp_src)
    s.cin_child = cin_child = s.asm_child[cp_src]
    cin_end = cin_start + rng.integers(90, 601, kp)
    s.cin_closed = cin_closed = cin_end <= A
    s.cin_end = cin_end = np.where(cin_closed, cin_end, NAT)
    s.cin_id, cin_order = chron_ids(ctx, "cin_plan", cin_start)
    s.out["cin_plans"] = take({
        "cin_plan_id": s.cin_id,
        "child_id": s.child_pid[cin_child],
        "assessment_id": np.where(rng.random(kp) < 0.92, s.asm_id[cp_src], -1),
        "start_date": cin_start,
        "end_date": cin_end,
        "outcomes_recorded": rng.choice(6, size=kp, p=[0.12, 0.2, 0.25, 0.23, 0.12, 0.08]),
        "multi_agency_at_start": yn(rng, 0.7, kp),
        "closure_outcome": np.where(cin_closed, pick(rng, codes.CLOSURE, kp), ""),
        "team_id": s.child_team[cin_child],
    }, cin_order)


def cin_reviews(s: Chunk) -> None:
    rng, cin_start = s.rng, s.cin_start
    eff_end = np.where(s.cin_closed, s.cin_end, s.A)
    nrev = days(eff_end - cin_start) // 91
    pi = np.repeat(np.arange(len(cin_start)), nrev)
    kk = group_rank(nrev) + 1
    kr = len(pi)
    rv_date = cin_start[pi] + kk * 91 + rng.integers(-14, 21, kr)
    rv_date = np.minimum(np.maximum(rv_date, cin_start[pi]), eff_end[pi])
    rv_id, rv_order = chron_ids(s.ctx, "cin_review", rv_date)
    s.out["cin_reviews"] = take({
        "review_id": rv_id,
        "cin_plan_id": s.cin_id[pi],
        "child_id": s.child_pid[s.cin_child[pi]],
        "review_date": rv_date,
        "child_participated": yn(rng, 0.6, kr),
        "multi_agency_attended": yn(rng, 0.65, kr),
        "progress_recorded": yn(rng, 0.7, kr),
    }, rv_order)


def strategy_discussions(s: Chunk) -> None:
    """Only a child's last referral gets here."""
    rng, A = s.rng, s.A
    s.sx = sx = np.nonzero(s.dec == "STRATEGY_DISCUSSION")[0]
    ks = len(sx)
    sd_date = wd(s.ctx, s.dec_date[sx], rng.choice([0, 1], size=ks, p=[0.7, 0.3]))
    s.sd_date = sd_date = np.where(sd_date <= A, sd_date, s.dec_date[sx])
    recent = days(A - sd_date) < 20
    s.s47 = np.where(recent & (rng.random(ks) < 0.6), "ONGOING", pick(rng, codes.S47, ks))
    s.sd_child = sd_child = s.rc[sx]
    s.sd_id, sd_order = chron_ids(s.ctx, "strategy", sd_date)
    s.out["strategy_discussions"] = take({
        "strategy_id": s.sd_id,
        "referral_id": s.ref_id[sx],
        "child_id": s.child_pid[sd_child],
        "strategy_date": sd_date,
        "s47_outcome": s.s47,
        "team_id": s.child_team[sd_child],
    }, sd_order)


def cp_reviews(
    ctx: Ctx, rng: np.random.Generator, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Review conferences of CP plans starting on ``start``.

    Returns (plan index, review date, outcome) of the reviews held by as_of, and each
    plan's end date (NaT while open): the first review about 3 months after the start,
    then every 6 months; the last intended review ends the plan.
    """
    p = len(start)
    k_max = 6
    intended = rng.choice(np.arange(1, k_max + 1), size=p, p=[0.25, 0.25, 0.2, 0.15, 0.1, 0.05])
    first = np.where(
        rng.random(p) < 0.9, 91 - rng.integers(3, 21, p), 91 + rng.integers(3, 30, p)
    )
    later = np.where(
        rng.random((p, k_max - 1)) < 0.9,
        182 - rng.integers(3, 25, (p, k_max - 1)),
        182 + rng.integers(3, 40, (p, k_max - 1)),
    )
    offs = np.cumsum(np.concatenate([first[:, None], later], axis=1), axis=1)
    dates = wd(ctx, start[:, None] + offs, 0, roll="backward")
    kidx = np.arange(k_max)[None, :]
    valid = (kidx < intended[:, None]) & (dates <= ctx.as_of)
    last = dates[np.arange(p), intended - 1]
    ended = last <= ctx.as_of
    end = np.where(ended, last, NAT)
    outcome = np.where(kidx == (intended - 1)[:, None], "PLAN_ENDED", "PLAN_CONTINUES")
    pi, ki = np.nonzero(valid)
    return pi, dates[pi, ki], outcome[pi, ki], end


def initial_conferences(s: Chunk) -> None:
    """Initial conferences and the reviews of the CP plans they start."""
    rng = s.rng
    ic = np.nonzero(s.s47 == "ICPC")[0]
    ki = len(ic)
    ic_lag = np.where(rng.random(ki) < 0.75, rng.integers(5, 16, ki), rng.integers(16, 31, ki))
    ic_date = wd(s.ctx, s.sd_date[ic], ic_lag)
    keep = ic_date <= s.A
    s.ic, s.ic_date = ic, ic_date = ic[keep], ic_date[keep]
    s.ic_child = s.sd_child[ic]
    s.ic_outcome = pick(rng, codes.INITIAL_CONFERENCE, len(ic))
    s.started = started = np.nonzero(s.ic_outcome == "PLAN_STARTED")[0]
    s.i_pi, s.i_rdate, s.i_rout, s.i_end = cp_reviews(s.ctx, rng, ic_date[started])


def transfers_in(s: Chunk) -> None:
    """CP plans transferred in from other authorities (never overlapping the referral route)."""
    rng, n, A = s.rng, s.n, s.A
    tr = np.nonzero(~s.unborn & (rng.random(n) < 0.012))[0]
    t_date = wd(s.ctx, uniform_day(rng, s.earliest[tr], np.full(len(tr), A)), 0)
    keep = t_date <= A
    tr, t_date = tr[keep], t_date[keep]
    t_pi, t_rdate, t_rout, t_end = cp_reviews(s.ctx, rng, t_date)
    strat_ref_date = np.full(n, NAT, dtype="datetime64[D]")
    strat_ref_date[s.sd_child] = s.rday[s.sx]
    conflict = ~np.isnat(strat_ref_date[tr]) & ~(t_end < strat_ref_date[tr] - 30)
    ok = ~conflict
    remap = np.cumsum(ok) - 1
    t_keep_rev = ok[t_pi]
    s.t_pi, s.t_rdate = remap[t_pi[t_keep_rev]], t_rdate[t_keep_rev]
    s.t_rout = t_rout[t_keep_rev]
    s.tr, s.t_date, s.t_end = tr[ok], t_date[ok], t_end[ok]


def _conference_rows(s: Chunk) -> Arrays:
    ki, kt, i_pi, t_pi = len(s.ic), len(s.tr), s.i_pi, s.t_pi
    return concat([
        {   # initial
            "child": s.ic_child, "type": np.full(ki, "INITIAL"), "date": s.ic_date,
            "strategy": s.sd_id[s.ic], "outcome": s.ic_outcome, "src": np.zeros(ki, np.int64),
            "idx": np.arange(ki),
        },
        {   # reviews of plans started at initial conferences
            "child": s.ic_child[s.started[i_pi]], "type": np.full(len(i_pi), "REVIEW"),
            "date": s.i_rdate, "strategy": none_ids(len(i_pi)), "outcome": s.i_rout,
            "src": np.full(len(i_pi), 1, np.int64), "idx": i_pi,
        },
        {   # transfer-in
            "child": s.tr, "type": np.full(kt, "TRANSFER_IN"), "date": s.t_date,
            "strategy": none_ids(kt), "outcome": np.full(kt, "PLAN_STARTED"),
            "src": np.full(kt, 2, np.int64), "idx": np.arange(kt),
        },
        {   # reviews of transferred plans
            "child": s.tr[t_pi], "type": np.full(len(t_pi), "REVIEW"), "date": s.t_rdate,
            "strategy": none_ids(len(t_pi)), "outcome": s.t_rout,
            "src": np.full(len(t_pi), 3, np.int64), "idx": t_pi,
        },
    ])


def conferences(s: Chunk) -> None:
    conf = _conference_rows(s)
    conf_id, conf_order = chron_ids(s.ctx, "conference", conf["child"], conf["date"])
    s.conf = conf = take(conf, conf_order)
    s.conf_id = conf_id = conf_id[conf_order]
    s.out["cp_conferences"] = {
        "conference_id": conf_id,
        "child_id": s.child_pid[conf["child"]],
        "conference_type": conf["type"],
        "conference_date": conf["date"],
        "strategy_id": conf["strategy"],
        "outcome": conf["outcome"],
        "team_id": s.child_team[conf["child"]],
    }


def cp_plans(s: Chunk) -> None:
    conf, conf_id, started, tr = s.conf, s.conf_id, s.started, s.tr
    src0 = conf["src"] == 0
    ic_conf_id = none_ids(len(s.ic))
    ic_conf_id[conf["idx"][src0]] = conf_id[src0]
    src2 = conf["src"] == 2
    t_conf_id = none_ids(len(tr))
    t_conf_id[conf["idx"][src2]] = conf_id[src2]

    plan_child = np.concatenate([s.ic_child[started], tr])
    plan_start = np.concatenate([s.ic_date[started], s.t_date])
    plan_end = np.concatenate([s.i_end, s.t_end])
    plan_conf = np.concatenate([ic_conf_id[started], t_conf_id])
    npl = len(plan_child)
    plan_id, plan_order = chron_ids(s.ctx, "cp_plan", plan_start)
    s.out["cp_plans"] = take({
        "cp_plan_id": plan_id,
        "child_id": s.child_pid[plan_child],
        "start_date": plan_start,
        "end_date": plan_end,
        "category": pick(s.rng, codes.CATEGORY, npl),
        "initial_conference_id": np.where(s.rng.random(npl) < 0.97, plan_conf, -1),
        "team_id": s.child_team[plan_child],
    }, plan_order)


def _role_rows(s: Chunk, parts: list[Arrays], mask: np.ndarray, role: str | np.ndarray,
               person: np.ndarray, p_inv: float, p_att: float, report: np.ndarray,
               order: int) -> None:
    rows = np.nonzero(mask)[0]
    m = len(rows)
    inv = yn(s.rng, p_inv, m)
    att = np.where(inv == "Y", yn(s.rng, p_att, m), "N")
    parts.append({
        "row": rows,
        "role": np.broadcast_to(np.asarray(role), (len(mask),))[rows].astype("<U18"),
        "person": person[rows],
        "invited": inv,
        "attended": att,
        "report": report[rows],
        "order": np.full(m, order, np.int64),
    })


_PROFESSIONALS: Sequence[tuple[str, float]] = (
    ("HEALTH", 0.92), ("POLICE", 0.65), ("EDUCATION", 0.8), ("PROBATION", 0.06),
    ("OTHER_PROFESSIONAL", 0.12),
)


def _attendance_parts(s: Chunk, cc: np.ndarray, age_at: np.ndarray) -> list[Arrays]:
    rng, nconf = s.rng, len(cc)
    cfam = s.fam[cc]
    parts: list[Arrays] = []
    everyone = np.ones(nconf, dtype=bool)
    no_person = none_ids(nconf)
    prof_report = pick(rng, codes.REPORT_PROFESSIONAL, nconf)
    fam_report = pick(rng, codes.REPORT_FAMILY, nconf)
    _role_rows(s, parts, everyone, "SOCIAL_WORKER", no_person, 1.0, 0.96,
               pick(rng, codes.REPORT_SOCIAL_WORKER, nconf), 0)
    _role_rows(s, parts, everyone, np.where(s.grandparent[cfam], "OTHER_FAMILY", "MOTHER"),
               s.mother_pid[cfam], 0.96, 0.72, fam_report, 1)
    ftype_c = s.father_type_fam[cfam]
    frole = np.where(
        (ftype_c == "BIRTH_FATHER") | (ftype_c == "ADOPTIVE_FATHER"), "FATHER", "MALE_CARER"
    )
    _role_rows(s, parts, s.has_father[cfam], frole, s.father_of_fam[cfam], 0.8, 0.62,
               fam_report, 2)
    _role_rows(s, parts, (age_at >= 11) & (rng.random(nconf) < 0.35), "CHILD",
               s.child_pid[cc], 0.95, 0.8, fam_report, 3)
    for order, (role, p_role) in enumerate(_PROFESSIONALS, start=4):
        mask = rng.random(nconf) < p_role
        if role == "EDUCATION":
            mask &= age_at >= 4
        _role_rows(s, parts, mask, role, no_person, 0.97, 0.7, prof_report, order)
    return parts


def attendance(s: Chunk) -> None:
    conf, unborn, dob = s.conf, s.unborn, s.dob
    cc = conf["child"]
    age_at = np.where(unborn[cc], -1.0,
                      days(conf["date"] - np.where(unborn[cc], conf["date"], dob[cc])) / 365.25)
    att = concat(_attendance_parts(s, cc, age_at))
    att = take(att, np.lexsort((att["order"], att["row"])))
    s.out["conference_attendance"] = {
        "conference_id": s.conf_id[att["row"]],
        "child_id": s.child_pid[cc[att["row"]]],
        "attendee_role": att["role"],
        "person_id": att["person"],
        "invited": att["invited"],
        "attended": att["attended"],
        "report_submitted": att["report"],
    }
    # a grandparent who died is not someone the conferences deal with
    s.m_death[s.fam[cc]] = NAT


def fit_referrals(s: Chunk) -> None:
    """Family Intervention Team referrals."""
    rng, A, ctx = s.rng, s.A, s.ctx
    fx = np.nonzero(s.dec == "FIT_REFERRAL")[0]
    kf = len(fx)
    fr_date = wd(ctx, s.dec_date[fx], rng.integers(0, 6, kf))
    fr_date = np.where(fr_date <= A, fr_date, s.dec_date[fx])
    f_st = wd(ctx, fr_date, rng.integers(0, 21, kf))
    f_st = np.where((rng.random(kf) < 0.8) & (f_st <= A), f_st, NAT)
    f_en = f_st + rng.integers(30, 201, kf)
    f_en = np.where(~np.isnat(f_st) & (rng.random(kf) < 0.85) & (f_en <= A), f_en, NAT)
    fit_id, fit_order = chron_ids(ctx, "fit_referral", fr_date)
    s.out["fit_referrals"] = take({
        "fit_referral_id": fit_id,
        "child_id": s.child_pid[s.rc[fx]],
        "referral_date": fr_date,
        "tasks_outcomes_defined": yn(rng, 0.72, kf),
        "start_date": f_st,
        "end_date": f_en,
        "outcome_achieved": np.where(~np.isnat(f_en), pick(rng, codes.FIT_OUTCOME, kf), ""),
        "team_id": np.full(kf, ctx.teams["FAMILY_INTERVENTION"][0]),
    }, fit_order)
