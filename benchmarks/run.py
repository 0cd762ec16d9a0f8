"""Benchmark harness of the nightly pipeline (issue 6). Not a test: run it by hand.

    .venv/bin/python benchmarks/run.py --sizes S M L --db sqlite postgresql

For each size it generates a synthetic batch once (``generate_batch``, seed 42, cached under
``--data-root``, default /tmp/qa_bench_data), then runs every stage in a FRESH subprocess
(`benchmarks/stages.py`), so each stage's peak RSS is its own, and prints one markdown table
per size: wall time and peak RSS of each stage of our pipeline, the ratio to the floor, and
the same stage written the pandas way. Results are also written as JSON (``--json``).

Stages (ours, calling the library functions):
  read & parse     reading.read_text_csv + validation.typed_frame, per extract
  stage_batch      staging.stage_batch: read, guard, parse, pandera checks, parquet writes
  validate         = stage_batch minus the read & parse time measured inside that same run
  derive           indicators.derive_batch(manifest)
  load             publish.start_run + publish.publish into a fresh database (schema first,
                   untimed)
  end to end       pipeline.run_path(batch, db_url) into a fresh database (no Prefect)
Floor: pl.read_csv of every file with an explicit schema + str.to_date/to_datetime, nothing
written. Pandas way: see benchmarks/pandas_way.py.

PostgreSQL: a throw-away server started with tests/pg_server.py (durable settings unless
``--pg-fast``); each load gets a brand-new database.

Nights mode (issue 15 point 6), ``--nights N``:

    QA_PIPELINE_AFTERCARE=false .venv/bin/python benchmarks/run.py --nights 30 --sizes M

generates N consecutive nights of one caseload (``generate_nights``, seed 42, the first night
on FIRST_NIGHT; ``--change-rate``/``--new-rate``/``--delete-rate``, default 1 %, 0.5 %,
0.1 %; cached under ``--data-root``), measures the floor of nights 1 and 2 (best of
max(3, --repeat)), then for each database runs the nights in order into ONE new database, each
night the nightly job in a fresh process (`stages.py night`), and prints the nights side by
side and the targets table (``nights_mode.py``): end to end and publish of the first night
(empty database) and of the next, the other nights' end to end, the database size after the
first and the last night, the peak RSS. ``--markdown FILE`` also writes the report there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # tests.pg_server

import nights_mode  # noqa: E402

from qa_pipeline.sample.generate import SIZES, children_count  # noqa: E402

LIMIT = [900.0]  # the per-stage time limit, for the report
DB_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
SEED = 42
AS_OF = date(2026, 11, 25)


# --- data ----------------------------------------------------------------------------------


def batch_for(size: str, data_root: Path) -> Path:
    """The cached batch of a size, generated on first use."""
    children = children_count(size)
    root = data_root / f"{size}_{children}_seed{SEED}"
    batch = root / AS_OF.isoformat()
    stamp = root / "complete"
    if not stamp.exists():
        from qa_pipeline.sample.generate import generate_batch

        print(f"# generating {size} ({children:,} children) into {root} ...", flush=True)
        t = time.perf_counter()
        generate_batch(root, children=children, seed=SEED, as_of=AS_OF)
        stamp.write_text(f"{time.perf_counter() - t:.1f}s\n")
    return batch


def batch_facts(batch: Path) -> dict[str, Any]:
    files = sorted(batch.glob("*.csv"))
    size = sum(f.stat().st_size for f in files)
    rows = 0
    for f in files:
        with f.open("rb") as fh:
            rows += sum(buf.count(b"\n") for buf in iter(lambda fh=fh: fh.read(1 << 22), b"")) - 1
    return {"files": len(files), "bytes": size, "rows": rows}


FIRST_NIGHT = date(2026, 10, 1)
"""The nights mode's first night (a fixed date, so the cache is reused; the last night must
not be after today: a batch dated in the future is refused)."""


def nights_for(size: str, nights: int, rates: Any, data_root: Path) -> list[Path]:
    """The cached nights of a size and rates (generated on first use, or again when fewer
    were cached: the first k nights of a longer run are the same as a k-night run's)."""
    children = children_count(size)
    last = FIRST_NIGHT + timedelta(days=nights - 1)
    if last > date.today():
        raise SystemExit(f"--nights {nights}: the last night ({last}) would be in the future")
    root = data_root / (f"{size}_{children}_seed{SEED}_nights_{FIRST_NIGHT}_c{rates.change:g}"
                        f"_n{rates.new:g}_d{rates.delete:g}")
    stamp = root / "complete"
    have = int(stamp.read_text().split()[0]) if stamp.exists() else 0
    if have < nights:
        from qa_pipeline.sample.nights import generate_nights

        shutil.rmtree(root, ignore_errors=True)
        print(f"# generating {nights} nights of {size} ({children:,} children) into {root} ...",
              flush=True)
        t = time.perf_counter()
        generate_nights(root, nights=nights, children=children, seed=SEED, as_of=FIRST_NIGHT,
                        rates=rates)
        stamp.write_text(f"{nights} nights, {time.perf_counter() - t:.1f}s\n")
    return [root / (FIRST_NIGHT + timedelta(days=i)).isoformat() for i in range(nights)]


# --- databases -----------------------------------------------------------------------------


class Databases:
    """Fresh database URLs: SQLite files in the work folder, PostgreSQL databases on one
    throw-away server started on demand."""

    def __init__(self, work_root: Path, pg_fast: bool) -> None:
        self.work_root = work_root
        self.pg_fast = pg_fast
        self.server: Any = None
        self.created: list[str] = []

    def fresh(self, kind: str, label: str) -> str:
        if kind == "sqlite":
            path = self.work_root / f"{label}_{uuid.uuid4().hex[:6]}.db"
            return f"sqlite:///{path}"
        if self.server is None:
            from tests.pg_server import PostgresServer

            settings = {"shared_buffers": "256MB", "max_wal_size": "4GB"}
            self.server = PostgresServer(fast=self.pg_fast, settings=settings)
            self.server.setup()
        name = f"bench_{label}_{uuid.uuid4().hex[:6]}".lower()
        self.server.create_database(name)
        self.created.append(name)
        return str(self.server.url(name))

    def drop(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".lock").unlink(missing_ok=True)  # the run lock
        elif self.server is not None:
            self.server.drop_database(url.rsplit("/", 1)[1])

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


# --- running one stage ---------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and the files under src/ that differed from it (others edit)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()
        except OSError:
            return "?"

    dirty = git("status", "--short", "--", "src")
    return git("rev-parse", "--short", "HEAD") + (
        f" + uncommitted: {' '.join(ln.split()[-1] for ln in dirty.splitlines())}"
        if dirty else "")


def run_stage(stage: str, batch: Path, work: Path, timeout: float, db: str | None = None,
              profile: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "stages.py"), stage, "--batch", str(batch),
           "--work", str(work)]
    if db:
        cmd += ["--db", db]
    if profile:
        cmd += ["--profile", str(profile)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"not finished after {timeout:.0f} s", "timeout": True}
    process_s = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    out: dict[str, Any] = json.loads(lines[-1])
    out["process_s"] = process_s
    out["code"] = code_version()
    return out


def best_of(n: int, fn: Any) -> dict[str, Any]:
    """The fastest of n runs (peak RSS: the highest seen)."""
    runs = [fn() for _ in range(n)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    best = min(ok, key=lambda r: r["wall"])
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in ok)
    best["runs"] = [round(r["wall"], 3) for r in ok]
    return best


def bench_size(size: str, a: argparse.Namespace, dbs: Databases) -> dict[str, Any]:
    batch = batch_for(size, a.data_root)
    work_root = a.work_root / size
    shutil.rmtree(work_root, ignore_errors=True)
    work_root.mkdir(parents=True)
    staged = work_root / "staged"
    res: dict[str, Any] = {"size": size, "batch": str(batch), "facts": batch_facts(batch),
                           "code": code_version(), "stages": {}}
    st = res["stages"]
    prof_dir = a.profile_dir / size if a.profile else None
    if prof_dir:
        prof_dir.mkdir(parents=True, exist_ok=True)

    def go(key: str, stage: str, db_kind: str | None = None, work: Path = staged,
           profile: bool = False) -> None:
        if stage in a.skip and not profile:
            st[key] = {"error": "skipped (--skip)", "skipped": True}
            return
        def once() -> dict[str, Any]:
            url = dbs.fresh(db_kind, stage) if db_kind else None
            prof = (prof_dir / f"{key}.prof") if (profile and prof_dir) else None
            try:
                if stage == "stage_batch":
                    shutil.rmtree(work, ignore_errors=True)
                return run_stage(stage, batch, work, a.timeout, url, prof)
            finally:
                if url:
                    dbs.drop(url)

        print(f"# {size}: {key} ...", end=" ", flush=True)
        r = best_of(a.repeat, once)
        st[key] = r
        print(r.get("error") or f"{r['wall']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB",
              flush=True)

    go("floor", "floor")
    go("read_parse", "read_parse")
    go("stage_batch", "stage_batch")
    go("derive", "derive")
    for kind in a.db:
        go(f"load_{kind}", "load", kind)
    if not a.skip_pandas:
        go("pandas_read_parse", "pandas_read_parse")
        go("pandas_read_validate", "pandas_read_validate")
        for kind in a.db:
            go(f"pandas_load_{kind}", "pandas_load", kind)
    for kind in a.db:
        load = st.get(f"load_{kind}", {})
        if load.get("timeout"):  # the load alone did not finish: neither can the whole job
            st[f"end_to_end_{kind}"] = {"error": "not run: its load stage did not finish",
                                        "timeout": True}
            continue
        go(f"end_to_end_{kind}", "end_to_end", kind, work=work_root / "e2e")
    if a.profile:
        # once more under cProfile (slower: the timings above are the ones to quote)
        old = a.repeat
        a.repeat = 1
        for key, stage, kind in (("stage_batch", "stage_batch", None), ("derive", "derive", None),
                                 *[(f"load_{k}", "load", k) for k in a.db]):
            saved = st[key]
            go(key, stage, kind, profile=True)
            st[key + "_profiled"] = st[key]
            st[key] = saved
        a.repeat = old
    return res


def bench_nights(size: str, a: argparse.Namespace, dbs: Databases) -> dict[str, Any]:
    """Nights mode: the floor of nights 1 and 2, then every night in order into one new
    database per kind, each in a fresh process."""
    from qa_pipeline.sample.nights import Rates

    rates = Rates(change=a.change_rate, new=a.new_rate, delete=a.delete_rate)
    nights = nights_for(size, a.nights, rates, a.data_root)
    work_root = a.work_root / f"nights_{size}"
    shutil.rmtree(work_root, ignore_errors=True)
    work_root.mkdir(parents=True)
    res: dict[str, Any] = {
        "mode": "nights", "size": size, "children": children_count(size), "nights": a.nights,
        "rates": {"change": rates.change, "new": rates.new, "delete": rates.delete},
        "batches": [str(b) for b in nights], "code": code_version(),
        "facts": {"night1": batch_facts(nights[0]), "night2": batch_facts(nights[1]),
                  "last": batch_facts(nights[-1])},
        "floors": {"repeat": max(3, a.repeat)}, "runs": {}}
    for key, night in (("night1", nights[0]), ("night2", nights[1])):
        print(f"# {size}: floor of {night.name} ...", end=" ", flush=True)
        r = best_of(max(3, a.repeat),
                    lambda night=night: run_stage("floor", night, work_root / "floor", a.timeout))
        res["floors"][key] = r
        print(r.get("error") or f"{r['wall']:.3f} s", flush=True)
    for kind in a.db:
        url = dbs.fresh(kind, f"nights_{size}")
        runs: list[dict[str, Any]] = res["runs"].setdefault(kind, [])
        try:
            for i, night in enumerate(nights):
                print(f"# {size} {kind}: night {i + 1}/{len(nights)} ({night.name}) ...",
                      end=" ", flush=True)
                r = run_stage("night", night, work_root / f"work_{kind}", a.timeout, url)
                runs.append(r)
                if "error" in r:
                    print(r["error"], flush=True)
                    break
                print(f"{r['wall']:.2f} s, publish {r['steps'].get('publish', 0):.2f} s, "
                      f"db {r['db_bytes'] / 2**20:,.1f} MiB, peak {r['peak_rss_mib']:.0f} MiB",
                      flush=True)
        finally:
            dbs.drop(url)
    return res


def imported_from() -> Path:
    """Where the measured package comes from (an editable install may point elsewhere:
    set PYTHONPATH to this checkout's src/)."""
    import qa_pipeline

    return Path(qa_pipeline.__file__).resolve().parent


def command_line() -> str:
    """The command as run (the environment variables that change what is measured first)."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in ("QA_PIPELINE_AFTERCARE", "PYTHONPATH")
           if k in os.environ]
    return " ".join([*env, shlex.quote(sys.executable), *map(shlex.quote, sys.argv)])


# --- report --------------------------------------------------------------------------------


def fmt_s(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    if "error" in r:
        if r.get("skipped"):
            return "not run"
        return f"not finished (> {LIMIT[0]:.0f} s)" if r.get("timeout") else "failed"
    return f"{r['wall']:.2f}"


def fmt_mib(r: dict[str, Any] | None) -> str:
    if r is None or "error" in r:
        return "–"
    return f"{r['peak_rss_mib']:,.0f}"


def ratio(x: float | None, y: float | None) -> str:
    if x is None or y is None or y <= 0:
        return "–"
    return f"{x / y:.1f}×"


def wall(r: dict[str, Any] | None) -> float | None:
    return None if r is None or "error" in r else float(r["wall"])


def derived(total: dict[str, Any] | None, minus: float | None,
            peak_from: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A stage measured as a difference (validate = read+validate - read)."""
    w = wall(total)
    if w is None or minus is None:
        return total if total is not None and "error" in total else None
    return {"wall": max(w - minus, 0.0), "peak_rss_mib": (peak_from or total or {})
            .get("peak_rss_mib", 0)}


def inner_read_parse(stage_batch: dict[str, Any] | None) -> float | None:
    if stage_batch is None or "error" in stage_batch:
        return None
    b = stage_batch.get("breakdown", {})
    keys = [k for k in b if k.startswith(("read:", "parse:"))]
    return sum(b[k] for k in keys) if keys else None


def report(res: dict[str, Any], dbs: list[str]) -> str:
    st = res["stages"]
    f = res["facts"]
    floor = wall(st.get("floor"))
    children = SIZES.get(res["size"], res["size"])
    lines = [
        f"### {res['size']}: {children:,} children — {f['rows']:,} rows in {f['files']} files, "
        f"{f['bytes'] / 2**20:,.1f} MiB of CSV (code {res.get('code', '?')})",
        "",
        "| stage | ours: wall s | ours: peak RSS MiB | ours ÷ floor | pandas way: wall s "
        "| pandas: peak RSS MiB | pandas ÷ ours |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, ours: dict[str, Any] | None, pandas: dict[str, Any] | None = None,
            vs_floor: bool = True) -> None:
        lines.append(
            f"| {label} | {fmt_s(ours)} | {fmt_mib(ours)} | "
            f"{ratio(wall(ours), floor) if vs_floor else ''} | "
            f"{fmt_s(pandas) if pandas is not None else ''} | "
            f"{fmt_mib(pandas) if pandas is not None else ''} | "
            f"{ratio(wall(pandas), wall(ours)) if pandas is not None else ''} |")

    sb = st.get("stage_batch")
    rp_inner = inner_read_parse(sb)
    p_rp, p_rv = st.get("pandas_read_parse"), st.get("pandas_read_validate")
    row("floor: polars read_csv, typed, nothing written", st.get("floor"))
    row("read & parse (read_text_csv + typed_frame)", st.get("read_parse"), p_rp)
    row("validate (stage_batch − its read & parse; incl. guard, parquet writes)",
        derived(sb, rp_inner), derived(p_rv, wall(p_rp)) if p_rv else None)
    row("read + parse + validate (stage_batch)", sb, p_rv)
    row("derive indicators (derive_batch)", st.get("derive"))
    def carried(key: str, field: str, what: str, vs_floor: bool = True) -> None:
        """A second timing that a stage's result carries (next night, unchanged rerun)."""
        for kind in dbs:
            r = st.get(f"{key}_{kind}")
            if r is not None and field in r:
                row(what.format(DB_LABEL[kind]),
                    {"wall": r[field], "peak_rss_mib": r["peak_rss_mib"]}, vs_floor=vs_floor)

    for kind in dbs:
        row(f"load {DB_LABEL[kind]} (publish; pandas: to_sql)", st.get(f"load_{kind}"),
            st.get(f"pandas_load_{kind}"))
    carried("load", "next_night_s", "load {}, next night (the same rows as the next day's "
            "batch, into tables holding this one: indexes kept)")
    for kind in dbs:
        row(f"**end to end {DB_LABEL[kind]}** (run_path)", st.get(f"end_to_end_{kind}"))
    carried("end_to_end", "unchanged_rerun_s", "unchanged batch again, {} (run_path on the "
            "landing folder: skipped by checksum; peak RSS of the whole process)",
            vs_floor=False)
    lines.append("")

    # targets
    checks = []
    for kind, limit in (("sqlite", 4), ("postgresql", 3)):
        e2e = wall(st.get(f"end_to_end_{kind}"))
        if kind in dbs and e2e is not None and floor:
            checks.append(f"end to end {kind} = {e2e / floor:.1f}× floor (target ≤ {limit}×): "
                          f"{'met' if e2e / floor <= limit else 'NOT met'}")
    for kind in dbs:
        rerun = (st.get(f"end_to_end_{kind}") or {}).get("unchanged_rerun_s")
        if rerun is not None:
            checks.append(f"unchanged batch skipped in {rerun:.2f} s ({kind}; target < 2 s): "
                          f"{'met' if rerun < 2 else 'NOT met'}")
    if wall(sb) and wall(p_rv):
        speed = wall(p_rv) / wall(sb)  # type: ignore[operator]
        checks.append(f"read+validate {speed:.1f}× faster than pandas (target ≥ 5×): "
                      f"{'met' if speed >= 5 else 'NOT met'}")
    peaks = [r["peak_rss_mib"] for k, r in st.items()
             if "error" not in r and not k.startswith("pandas") and "profiled" not in k]
    if peaks:
        checks.append(f"highest peak RSS of our stages {max(peaks) / 1024:.2f} GiB "
                      f"(target ≤ 6 GiB): {'met' if max(peaks) <= 6 * 1024 else 'NOT met'}")
    lines += [f"- {c}" for c in checks]
    lines.append("")

    # where the time goes inside the instrumented stages
    for key, title in (("stage_batch", "stage_batch"), ("derive", "derive_batch"),
                       *[(f"load_{k}", f"publish ({k})") for k in dbs]):
        r = st.get(key)
        if r is None or "error" in r or not r.get("breakdown"):
            continue
        timed = [(title, r["wall"], r["breakdown"])]
        if r.get("next_night_breakdown"):
            timed.append((f"{title}, next night", r["next_night_s"], r["next_night_breakdown"]))
        for name, total, b in timed:
            parts = sorted(b.items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{k} {v:.2f}" for k, v in parts[:8])
            lines.append(f"- {name} {total:.2f} s: {shown}; other {total - sum(b.values()):.2f}")
    lines.append("")
    return "\n".join(lines)


def machine() -> str:
    import importlib.metadata as md

    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for pkg in ("polars", "pandera", "pandas", "numpy", "sqlalchemy", "psycopg"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    try:
        from tests.pg_server import find_binaries

        versions.append(f"PostgreSQL {find_binaries().version}")
    except Exception:  # noqa: BLE001
        pass
    import sqlite3

    versions.append(f"SQLite {sqlite3.sqlite_version}")
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.platform()}, "
            f"Python {platform.python_version()}; " + ", ".join(versions))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["S", "M"],
                   help="S, M, L or a number of children")
    p.add_argument("--db", nargs="+", default=["sqlite", "postgresql"],
                   choices=["sqlite", "postgresql"])
    p.add_argument("--timeout", type=float, default=900, help="per stage, seconds")
    p.add_argument("--repeat", type=int, default=1, help="best of N runs per stage")
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument("--skip", nargs="+", default=[], metavar="STAGE",
                   help="stages of stages.py not to run, e.g. pandas_load at size L "
                        "(its python-object rows do not fit in memory)")
    p.add_argument("--profile", action="store_true",
                   help="also run stage_batch, derive and load once more under cProfile")
    p.add_argument("--pg-fast", action="store_true",
                   help="PostgreSQL with fsync/synchronous_commit/full_page_writes off")
    p.add_argument("--data-root", type=Path, default=Path("/tmp/qa_bench_data"))
    p.add_argument("--work-root", type=Path, default=Path("/tmp/qa_bench_work"))
    p.add_argument("--profile-dir", type=Path, default=Path("/tmp/qa_bench_profiles"))
    p.add_argument("--json", type=Path, default=Path("/tmp/qa_bench_results.json"))
    p.add_argument("--nights", type=int, default=0, metavar="N",
                   help="nights mode (issue 15): N >= 2 consecutive nights per size and "
                        "database (the stage options above do not apply)")
    p.add_argument("--change-rate", type=float, default=0.01, metavar="R")
    p.add_argument("--new-rate", type=float, default=0.005, metavar="R")
    p.add_argument("--delete-rate", type=float, default=0.001, metavar="R")
    p.add_argument("--markdown", type=Path, help="nights mode: also write the report here")
    a = p.parse_args()
    if a.nights:
        if a.nights < 2:
            p.error("--nights needs at least 2 nights (the first and the next)")
        return main_nights(a)
    for s in a.sizes:
        if s not in SIZES and not s.isdigit():
            p.error(f"unknown size {s!r}")
    a.work_root.mkdir(parents=True, exist_ok=True)
    LIMIT[0] = a.timeout
    print(f"# machine: {machine()}", flush=True)
    dbs = Databases(a.work_root, a.pg_fast)
    results = {"machine": machine(), "argv": sys.argv, "sizes": []}
    out = []
    try:
        for size in a.sizes:
            res = bench_size(size, a, dbs)
            results["sizes"].append(res)
            a.json.write_text(json.dumps(results, indent=1, default=str))
            text = report(res, a.db)
            out.append(text)
            print("\n" + text, flush=True)
    finally:
        dbs.close()
    print("\n\n".join(out))
    print(f"# results: {a.json}")
    return 0


def main_nights(a: argparse.Namespace) -> int:
    # the after-publish checks and report are not part of the targets (docs/performance.md)
    os.environ.setdefault("QA_PIPELINE_AFTERCARE", "false")
    a.work_root.mkdir(parents=True, exist_ok=True)
    LIMIT[0] = a.timeout
    cmd = command_line()
    where = machine()
    print(f"# machine: {where}", flush=True)
    dbs = Databases(a.work_root, a.pg_fast)
    results: dict[str, Any] = {"machine": where, "argv": sys.argv, "command": cmd,
                               "sizes": []}
    out = []
    try:
        for size in a.sizes:
            res = bench_nights(size, a, dbs)
            results["sizes"].append(res)
            a.json.write_text(json.dumps(results, indent=1, default=str))
            out.append(nights_mode.report(res, a.db))
    finally:
        dbs.close()
    text = "\n".join([
        f"Command: `{cmd}`", "",
        f"Machine: {where}", "",
        f"Code: {code_version()} (git commit; files under src/ differing from it listed)"
        + ("" if imported_from() == ROOT / "src" / "qa_pipeline" else
           f"; **but qa_pipeline was imported from {imported_from()}**, not this checkout")
        + ("; PostgreSQL with fsync, synchronous_commit, full_page_writes off (--pg-fast)"
           if a.pg_fast else ""), "",
        *out])
    print("\n" + text)
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(text + "\n", encoding="utf-8")
        print(f"# report: {a.markdown}")
    print(f"# results: {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
