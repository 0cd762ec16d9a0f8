"""The "nights" mode of the benchmark (issue 15 point 6): the pure part - the targets and the
markdown report - kept apart from `run.py` (which generates the nights and runs them) so it
can be tested without running anything (tests/unit/test_benchmark_nights.py).

A measured night, as `stages.py night` prints it: ``wall`` (the nightly job on the night's
batch folder: settings, `check_site_files`, `run_job`, like `run_path`), ``steps`` (seconds in
each step of `run_job`/`run_batch`, timed through their ``step`` hook: prepare,
select_batches, begin, stage, derive, publish, after_publish), ``db_bytes`` (SQLite file
size, WAL included; PostgreSQL ``pg_database_size``) after the night, ``peak_rss_mib``.
Only standard-library imports here.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

DB_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# issue 15 point 6 (stated at size L, 30 nights of 1 % changed, 0.5 % new, 0.1 % deleted)
NEXT_E2E_X_FLOOR = 10.0
NEXT_PUBLISH_SHARE = 0.10
FIRST_E2E_X_FLOOR = 25.0
PEAK_GIB = 3.0
SIZE_GROWTH = 1.3


@dataclass(frozen=True)
class DbNights:
    """What the targets need of one database's run of nights (None: not measured)."""

    first_e2e: float | None = None
    first_publish: float | None = None
    next_e2e: float | None = None
    next_publish: float | None = None
    size_first: int | None = None
    size_last: int | None = None


@dataclass(frozen=True)
class Target:
    what: str
    measured: str
    target: str
    met: bool | None  # None: not measured

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**not met**", None: "not measured"}[self.met]


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def targets(dbs: dict[str, DbNights], floor_first: float | None, floor_next: float | None,
            peak_rss_mib: float | None) -> list[Target]:
    """One row per target of issue 15 point 6 (per database where it is per database)."""
    rows: list[Target] = []

    def vs_floor(what: str, e2e: float | None, floor: float | None, limit: float,
                 floor_name: str) -> Target:
        if e2e is None or not floor:
            return Target(what, "–", f"≤ {limit:g} × floor", None)
        x = e2e / floor
        return Target(what, f"{e2e:.2f} s = {x:.1f} × floor ({floor_name} {floor:.3f} s)",
                      f"≤ {limit:g} × floor", x <= limit)

    for kind, m in dbs.items():
        rows.append(vs_floor(f"next night end to end, {DB_LABEL[kind]}", m.next_e2e,
                             floor_next, NEXT_E2E_X_FLOOR, "night 2"))
    for kind, m in dbs.items():
        what = f"next night publish, {DB_LABEL[kind]}"
        if m.next_publish is None or not m.first_publish:
            rows.append(Target(what, "–", f"≤ {NEXT_PUBLISH_SHARE:.0%} of the first night's",
                               None))
            continue
        share = m.next_publish / m.first_publish
        rows.append(Target(
            what, f"{m.next_publish:.2f} s = {share:.0%} of the first night's "
                  f"({m.first_publish:.2f} s)",
            f"≤ {NEXT_PUBLISH_SHARE:.0%} of the first night's", share <= NEXT_PUBLISH_SHARE))
    for kind, m in dbs.items():
        rows.append(vs_floor(f"first night end to end (empty database), {DB_LABEL[kind]}",
                             m.first_e2e, floor_first, FIRST_E2E_X_FLOOR, "night 1"))
    if peak_rss_mib is None:
        rows.append(Target("peak memory (every night, every database)", "–",
                           f"≤ {PEAK_GIB:g} GiB", None))
    else:
        gib = peak_rss_mib / 1024
        rows.append(Target("peak memory (highest peak RSS of every night, every database)",
                           f"{gib:.2f} GiB", f"≤ {PEAK_GIB:g} GiB", gib <= PEAK_GIB))
    for kind, m in dbs.items():
        what = f"database size after the last night, {DB_LABEL[kind]}"
        if m.size_first is None or m.size_last is None or m.size_first <= 0:
            rows.append(Target(what, "–", f"≤ {SIZE_GROWTH:g} × after the first", None))
            continue
        x = m.size_last / m.size_first
        rows.append(Target(what, f"{_mib(m.size_last)} = {x:.2f} × after the first "
                                 f"({_mib(m.size_first)})",
                           f"≤ {SIZE_GROWTH:g} × after the first", x <= SIZE_GROWTH))
    return rows


def targets_table(rows: list[Target]) -> list[str]:
    out = ["| target (issue 15 point 6) | measured | target | |", "|---|---|---|---|"]
    out += [f"| {r.what} | {r.measured} | {r.target} | {r.verdict} |" for r in rows]
    return out


# --- from the measured nights ---------------------------------------------------------------


def ok(r: dict[str, Any] | None) -> bool:
    return r is not None and "error" not in r


def db_nights(runs: list[dict[str, Any]]) -> DbNights:
    """The target inputs of one database's nights (night 1 = runs[0], next = runs[1])."""
    def get(i: int, key: str) -> Any:
        if len(runs) <= i or not ok(runs[i]):
            return None
        if key == "publish":
            return runs[i].get("steps", {}).get("publish")
        return runs[i].get(key)

    last = runs[-1] if runs and all(ok(r) for r in runs) else None
    return DbNights(first_e2e=get(0, "wall"), first_publish=get(0, "publish"),
                    next_e2e=get(1, "wall"), next_publish=get(1, "publish"),
                    size_first=get(0, "db_bytes"),
                    size_last=last.get("db_bytes") if last else None)


def peak_of(runs: dict[str, list[dict[str, Any]]]) -> float | None:
    peaks = [r["peak_rss_mib"] for rs in runs.values() for r in rs if ok(r)]
    return max(peaks) if peaks else None


def _cell_s(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _cells(r: dict[str, Any] | None, floor: float | None) -> list[str]:
    if r is None:
        return ["–"] * 5
    if not ok(r):
        return ["failed" if not r.get("timeout") else "timed out", "", "", "", ""]
    pub = r.get("steps", {}).get("publish")
    return [f"{r['wall']:.2f}", f"{r['wall'] / floor:.1f}×" if floor else "–", _cell_s(pub),
            f"{r['peak_rss_mib']:,.0f}",
            _mib(r["db_bytes"]) if r.get("db_bytes") is not None else "–"]


def _rest_cells(rest: list[dict[str, Any]], floor: float | None) -> list[str]:
    if not rest:
        return ["–"] * 5
    if not all(ok(r) for r in rest):
        return ["failed", "", "", "", ""]
    walls = [r["wall"] for r in rest]
    pubs = [r.get("steps", {}).get("publish") for r in rest]
    med = statistics.median(walls)
    pub = (f"{statistics.median(pubs):.2f}" if all(p is not None for p in pubs) else "–")
    return [f"{med:.2f} ({min(walls):.2f}–{max(walls):.2f})",
            f"{med / floor:.1f}×" if floor else "–", pub,
            f"{max(r['peak_rss_mib'] for r in rest):,.0f}",
            _mib(rest[-1]["db_bytes"]) if rest[-1].get("db_bytes") is not None else "–"]


def report(res: dict[str, Any], kinds: list[str]) -> str:
    """The markdown of one size's nights: side by side, the targets, where the time went."""
    runs: dict[str, list[dict[str, Any]]] = res["runs"]
    floors = res["floors"]
    f1, f2 = (floors.get(k, {}).get("wall") for k in ("night1", "night2"))
    n = res["nights"]
    rates = res["rates"]
    facts = res["facts"]
    lines = [
        f"### Nights, {res['size']}: {res['children']:,} children, {n} nights "
        f"({rates['change']:.1%} changed, {rates['new']:.1%} new, {rates['delete']:.1%} "
        f"deleted each night); night 1 {facts['night1']['rows']:,} rows "
        f"({facts['night1']['bytes'] / 2**20:,.1f} MiB of CSV), night {n} "
        f"{facts['last']['rows']:,} rows (code {res.get('code', '?')})",
        "",
        f"Floor (polars read_csv of the night's files, typed, nothing written; best of "
        f"{floors.get('repeat', 1)}): night 1 {_cell_s(f1)} s, night 2 {_cell_s(f2)} s. "
        "Each night is the nightly job (`run_job` on the night's batch folder, as `run_path` "
        "runs it) in a fresh process, into the database holding the nights before; "
        "publish = its `publish` step (timed through `run_job`'s step hook).",
        "",
    ]
    head = ["night"]
    for k in kinds:
        lab = DB_LABEL[k]
        head += [f"{lab}: end to end s", "÷ floor", "publish s", "peak RSS MiB",
                 "database after"]
    lines += ["| " + " | ".join(head) + " |",
              "|---|" + "---:|" * (len(head) - 1)]
    table_rows = [("1 (into an empty database)", lambda rs: _cells(rs[0] if rs else None, f1)),
                  ("2 (the next night)",
                   lambda rs: _cells(rs[1] if len(rs) > 1 else None, f2))]
    if n > 2:
        rest = f"3–{n}: median (min–max)" if n > 3 else "3"
        table_rows.append((f"{rest}; database after night {n}",
                           lambda rs: _rest_cells(rs[2:], f2)))
    for label, cells in table_rows:
        row = [label]
        for k in kinds:
            row += cells(runs.get(k, []))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    rows = targets({k: db_nights(runs.get(k, [])) for k in kinds}, f1, f2, peak_of(runs))
    lines += targets_table(rows)
    lines.append("")
    lines.append(f"(The targets are stated for size L and 30 nights; this run: size "
                 f"{res['size']}, {n} nights. \"÷ floor\" of nights 2 and later: night 2's "
                 "floor.)")
    lines.append("")
    for k in kinds:
        rs = runs.get(k, [])
        if not rs:
            continue
        lines.append(f"- {DB_LABEL[k]}, every night end to end s: "
                     + ", ".join(_cell_s(r.get("wall")) if ok(r) else "failed" for r in rs))
        for i, r in enumerate(rs[:2]):
            if not ok(r):
                lines.append(f"- {DB_LABEL[k]}, night {i + 1} failed: {r.get('error')}")
                continue
            steps = sorted(r.get("steps", {}).items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{s} {v:.2f}" for s, v in steps)
            lines.append(f"- {DB_LABEL[k]}, night {i + 1} {r['wall']:.2f} s by step: {shown}; "
                         f"other {r['wall'] - sum(v for _, v in steps):.2f}")
            inside = sorted(r.get("publish_breakdown", {}).items(), key=lambda kv: -kv[1])
            if inside:
                lines.append("  - inside publish: "
                             + ", ".join(f"{s} {v:.2f}" for s, v in inside[:8]))
    lines.append("")
    return "\n".join(lines)
