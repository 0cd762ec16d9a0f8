"""One chunk's people: children, their families (a mother or grandparent, for most a father
figure), the persons extract and the relationships extract.

Every step takes the chunk's state (:class:`Chunk`) and draws from its random stream in a fixed
order; :func:`qa_pipeline.sample.cases.gen_chunk` calls them in that order.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from qa_pipeline.sample import codes
from qa_pipeline.sample.arrays import (
    NAT,
    Arrays,
    Ctx,
    concat,
    first_of_month,
    no_dates,
    none_ids,
    take,
    uniform_day,
    yn,
)
from qa_pipeline.sample.codes import pick

__all__ = ["Chunk", "adults", "children", "families", "persons", "relationships"]

_FLAGS = ("name_recorded", "dob_recorded", "address_recorded", "contact_recorded")


class Chunk(SimpleNamespace):
    """The state of one chunk while it is generated: ``ctx``, ``rng``, ``n`` (children),
    ``out`` (extract -> Arrays) and the arrays each step leaves for the later ones."""

    def __init__(self, ctx: Ctx, rng: np.random.Generator, n: int) -> None:
        super().__init__(ctx=ctx, rng=rng, n=n, A=ctx.as_of, out={})


def children(s: Chunk) -> None:
    rng, n, A, ctx = s.rng, s.n, s.A, s.ctx
    fieldwork = ctx.teams["FIELDWORK"]
    s.unborn = unborn = rng.random(n) < 0.02
    age_days = rng.integers(0, 18 * 365, n)
    s.dob = dob = np.where(unborn, NAT, first_of_month(A - age_days))
    s.edd = np.where(unborn, A + rng.integers(-30, 200, n), NAT)
    s.earliest = np.where(unborn, A - 150, np.maximum(dob, ctx.hist_start))
    s.child_sex = np.where(unborn, "U", pick(rng, codes.CHILD_SEX, n))
    child_eth = pick(rng, codes.ETHNICITY, n)
    s.child_eth = np.where(unborn & (rng.random(n) < 0.3), "", child_eth)
    s.disab = disab = np.where(unborn, "", pick(rng, codes.CHILD_DISABILITY, n))
    s.child_team = np.where(
        disab == "Y", ctx.teams["DISABILITY"][0], fieldwork[rng.integers(0, len(fieldwork), n)]
    )
    s.child_pid = ctx.alloc("person", n)


def families(s: Chunk) -> None:
    """1-3 children sharing a mother (or grandparent) and a father figure."""
    rng, n, A, ctx = s.rng, s.n, s.A, s.ctx
    sizes = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1])
    cs = np.cumsum(sizes)
    s.nfam = nfam = int(np.searchsorted(cs, n)) + 1
    sizes = sizes[:nfam].copy()
    sizes[-1] -= int(cs[nfam - 1]) - n
    s.fam = np.repeat(np.arange(nfam), sizes)
    s.fam_start = fam_start = np.cumsum(sizes) - sizes
    s.anchor = np.minimum.reduceat(np.where(s.unborn, A, s.dob), fam_start)

    s.grandparent = rng.random(nfam) < 0.05
    s.mother_pid = ctx.alloc("person", nfam)
    s.has_father = has_father = rng.random(nfam) < 0.75
    s.nfa = nfa = int(has_father.sum())
    s.father_of_fam = none_ids(nfam)
    s.father_of_fam[has_father] = ctx.alloc("person", nfa)
    s.father_type_fam = np.full(nfam, "", dtype="<U16")
    s.father_type_fam[has_father] = pick(rng, codes.FATHER_TYPE, nfa)


def adults(s: Chunk) -> None:
    """The mothers' and fathers' person fields (written later, by :func:`persons`)."""
    rng, A, nfam, nfa, anchor = s.rng, s.A, s.nfam, s.nfa, s.anchor
    grandparent = s.grandparent
    m_years = np.where(grandparent, rng.integers(40, 66, nfam), rng.integers(17, 43, nfam))
    m_dob = first_of_month(anchor - (m_years * 365.25).astype(np.int64))
    s.m_flags = {
        "name_recorded": yn(rng, 0.99, nfam),
        "dob_recorded": yn(rng, 0.94, nfam),
        "address_recorded": yn(rng, 0.93, nfam),
        "contact_recorded": yn(rng, 0.9, nfam),
    }
    s.m_death = np.where(
        grandparent & (rng.random(nfam) < 0.05), A - rng.integers(0, 700, nfam), NAT
    )
    s.m_dob = np.where(s.m_flags["dob_recorded"] == "Y", m_dob, NAT)
    m_eth = np.where(rng.random(nfam) < 0.85, s.child_eth[s.fam_start], "")
    m_eth = np.where(m_eth == "", pick(rng, codes.ETHNICITY, nfam), m_eth)
    s.m_eth = np.where(rng.random(nfam) < 0.1, "", m_eth)

    s.f_idx = f_idx = np.nonzero(s.has_father)[0]
    f_dob = first_of_month(anchor[f_idx] - (rng.integers(18, 50, nfa) * 365.25).astype(np.int64))
    complete = rng.random(nfa) < 0.6
    missing = rng.random((nfa, 4)) < 0.5
    none_missing = ~missing.any(axis=1)
    missing[none_missing, rng.integers(0, 4, nfa)[none_missing]] = True
    missing[complete] = False
    s.f_flags = {name: np.where(missing[:, i], "N", "Y") for i, name in enumerate(_FLAGS)}
    s.f_dob = np.where(s.f_flags["dob_recorded"] == "Y", f_dob, NAT)
    s.f_eth = np.where(rng.random(nfa) < 0.25, "", pick(rng, codes.ETHNICITY, nfa))


def _mother_rows(s: Chunk) -> Arrays:
    rng, n, A, unborn = s.rng, s.n, s.A, s.unborn
    m_type = np.where(s.grandparent[s.fam], "GRANDPARENT", "BIRTH_MOTHER")
    gp_start = np.where(
        s.grandparent[s.fam] & ~unborn & (rng.random(n) < 0.5),
        uniform_day(rng, np.where(unborn, A, s.dob), np.full(n, A)),
        NAT,
    )
    return {
        "child": np.arange(n),
        "related_person_id": s.mother_pid[s.fam],
        "relationship_type": m_type,
        "parental_responsibility": np.where(
            m_type == "BIRTH_MOTHER",
            pick(rng, codes.PR_BIRTH_MOTHER, n),
            pick(rng, codes.PR_GRANDPARENT, n),
        ),
        "lives_with_child": pick(rng, codes.LIVES_MOTHER, n),
        "start_date": gp_start,
        "end_date": no_dates(n),
        "sort": np.zeros(n, dtype=np.int64),
    }


def _father_start(s: Chunk, fc: np.ndarray, ftype: np.ndarray) -> np.ndarray:
    rng, A, dob = s.rng, s.A, s.dob
    nf = len(fc)
    f_unborn = s.unborn[fc]
    f_cdob = np.where(f_unborn, A, dob[fc])
    lo = np.maximum(f_cdob, A - 8 * 365)
    hi = np.full(nf, A - 2)
    can_start = ~f_unborn & (hi >= lo)
    step_like = (ftype == "STEP_FATHER") | (ftype == "MALE_CARER")
    start_step = np.where(
        step_like & (hi >= lo), uniform_day(rng, np.minimum(lo, hi), hi), NAT
    )
    start_birth = np.where(
        (ftype == "BIRTH_FATHER") & ~f_unborn & (rng.random(nf) < 0.3), dob[fc], NAT
    )
    adopt_start = np.minimum(f_cdob + rng.integers(180, 1500, nf), A - 2)
    start_adopt = np.where(
        (ftype == "ADOPTIVE_FATHER") & can_start & (adopt_start >= f_cdob), adopt_start, NAT
    )
    out: np.ndarray = np.where(step_like, start_step,
                               np.where(ftype == "BIRTH_FATHER", start_birth, start_adopt))
    return out


def _father_rows(s: Chunk) -> Arrays:
    rng, A, fam = s.rng, s.A, s.fam
    fc = np.nonzero(s.has_father[fam])[0]
    nf = len(fc)
    ftype = s.father_type_fam[fam[fc]]
    pr = np.where(
        ftype == "BIRTH_FATHER",
        pick(rng, codes.PR_BIRTH_FATHER, nf),
        np.where(ftype == "ADOPTIVE_FATHER", "Y", pick(rng, codes.PR_OTHER_FATHER, nf)),
    )
    f_unborn = s.unborn[fc]
    f_cdob = np.where(f_unborn, A, s.dob[fc])
    f_start = _father_start(s, fc, ftype)
    end_lo = np.where(np.isnat(f_start), np.maximum(f_cdob, s.ctx.hist_start), f_start) + 1
    p_end = np.where(np.isnat(f_start), 0.1, 0.2)
    want_end = ~f_unborn & (rng.random(nf) < p_end) & (end_lo <= A)
    f_end = np.where(
        want_end, uniform_day(rng, np.minimum(end_lo, A), np.full(nf, A)), NAT
    )
    return {
        "child": fc,
        "related_person_id": s.father_of_fam[fam[fc]],
        "relationship_type": ftype,
        "parental_responsibility": pr,
        "lives_with_child": pick(rng, codes.LIVES_FATHER, nf),
        "start_date": f_start,
        "end_date": f_end,
        "sort": np.ones(nf, dtype=np.int64),
    }


def _sibling_rows(s: Chunk) -> Arrays:
    rng, n = s.rng, s.n
    first_of_fam = s.fam_start[s.fam]
    sib = np.nonzero((np.arange(n) != first_of_fam) & (rng.random(n) < 0.7))[0]
    ns_ = len(sib)
    return {
        "child": sib,
        "related_person_id": s.child_pid[first_of_fam[sib]],
        "relationship_type": np.full(ns_, "SIBLING"),
        "parental_responsibility": np.full(ns_, "N"),
        "lives_with_child": pick(rng, codes.LIVES_SIBLING, ns_),
        "start_date": no_dates(ns_),
        "end_date": no_dates(ns_),
        "sort": np.full(ns_, 2, dtype=np.int64),
    }


def relationships(s: Chunk) -> None:
    rel = concat([_mother_rows(s), _father_rows(s), _sibling_rows(s)])
    rel = take(rel, np.lexsort((rel["sort"], rel["child"])))
    nrel = len(rel["child"])
    s.out["relationships"] = {
        "relationship_id": s.ctx.alloc("relationship", nrel),
        "child_id": s.child_pid[rel["child"]],
        **{c: rel[c] for c in ("related_person_id", "relationship_type",
                               "parental_responsibility", "lives_with_child", "start_date",
                               "end_date")},
    }


def persons(s: Chunk) -> None:
    """The persons extract: the children, then the mothers, then the fathers."""
    rng, n, nfam, nfa, unborn = s.rng, s.n, s.nfam, s.nfa, s.unborn
    s.out["persons"] = concat([
        {
            "person_id": s.child_pid,
            "person_type": np.where(unborn, "UNBORN", "CHILD"),
            "sex": s.child_sex,
            "date_of_birth": s.dob,
            "expected_date_of_birth": s.edd,
            "date_of_death": no_dates(n),
            "ethnicity": s.child_eth,
            "disability": s.disab,
            "name_recorded": np.where(unborn, "N", yn(rng, 0.99, n)),
            "dob_recorded": np.where(unborn, "N", "Y"),
            "address_recorded": np.where(unborn, yn(rng, 0.9, n), yn(rng, 0.96, n)),
            "contact_recorded": np.where(unborn, "N", yn(rng, 0.85, n)),
        },
        {
            "person_id": s.mother_pid,
            "person_type": np.full(nfam, "ADULT"),
            "sex": np.full(nfam, "F"),
            "date_of_birth": s.m_dob,
            "expected_date_of_birth": no_dates(nfam),
            "date_of_death": s.m_death,
            "ethnicity": s.m_eth,
            "disability": pick(rng, codes.MOTHER_DISABILITY, nfam),
            **s.m_flags,
        },
        {
            "person_id": s.father_of_fam[s.f_idx],
            "person_type": np.full(nfa, "ADULT"),
            "sex": np.full(nfa, "M"),
            "date_of_birth": s.f_dob,
            "expected_date_of_birth": no_dates(nfa),
            "date_of_death": no_dates(nfa),
            "ethnicity": s.f_eth,
            "disability": pick(rng, codes.FATHER_DISABILITY, nfa),
            **s.f_flags,
        },
    ])
