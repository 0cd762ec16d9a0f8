"""Great Expectations checks on the published tables of one batch.

The checks are *planned* here without Great Expectations (plain data: which query, which
expectation, a sentence saying what it means), then run by `run_checkpoint`, which imports
Great Expectations (≈3 s) only when called.

Great Expectations reads the reporting database itself through a **SQL datasource on the
engine's URL** (SQLite or PostgreSQL): one query asset per checked table, restricted to the
batch's `as_of`, so the checks run inside the database and nothing is copied into pandas.
One checkpoint validates every asset and builds the Data Docs into a local folder, one
folder per batch; the pages open with no network, their assets vendored once per site into
`data_docs/_static/` (`officers.data_docs`).

What is checked for the batch `as_of`:

* every `stg_<extract>` (the rows the batch loaded, from its history): its required key
  columns are never null and (where the contract says the key is unique) unique; its row
  count is at least `volume_tolerance` (default 50%) of the rows of the previous published
  batch — a half-empty extract is a truncated export;
* `indicator_value`: keys not null and unique, `numerator ≤ denominator`, `denominator > 0`;
  rates (unit `percent`) between 0 and 100;
* `indicator_run`: every indicator of the catalogue (`indicator`) is recorded for the batch,
  as `computed` or `skipped`;
* `dq_issue`: rule, extract, severity and message present, severity one of the three;
* `batch`: the batch is published (exactly one row).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qa_pipeline.load.db import (
    as_date,
    batch,
    dq_issue,
    indicator,
    indicator_run,
    indicator_value,
    loaded_rows,
    staged_table_name,
)
from qa_pipeline.officers.data_docs import make_offline
from qa_pipeline.spec.contracts import Extract, load_contracts

log = logging.getLogger(__name__)

DEFAULT_VOLUME_TOLERANCE = 0.5
SITE_NAME = "qa_pipeline"


@dataclass(frozen=True)
class Check:
    """One expectation: the Great Expectations class name, its arguments and what it means."""

    expectation: str
    kwargs: dict[str, Any]
    description: str
    kind: str  # key, volume, indicator, catalogue, issue, batch


@dataclass(frozen=True)
class AssetPlan:
    """One query asset (a table restricted to the batch) and its checks."""

    name: str
    table: str
    query: str
    checks: list[Check]


@dataclass(frozen=True)
class Outcome:
    name: str         # the check's sentence
    table: str
    kind: str
    success: bool
    observed: str     # what was found, e.g. "422 rows" or "3 unexpected rows"
    accepted: str | None = None
    """A failed check a release acknowledged ("accepted by NAME at release"): still computed
    and shown, not counted as a failure."""

    @property
    def label(self) -> str:
        if self.success:
            return self.name
        found = f"{self.name} — found {self.observed}"
        return f"{found} — {self.accepted}" if self.accepted else found


@dataclass
class ExpectationsResult:
    as_of: date
    outcomes: list[Outcome] = field(default_factory=list)
    data_docs_path: Path | None = None
    error: str | None = None  # the checkpoint could not run at all

    @property
    def failed(self) -> list[str]:
        """Human-readable names of the failed expectations (empty: all passed)."""
        out = [o.label for o in self.outcomes if not o.success and not o.accepted]
        if self.error:
            out.insert(0, f"the expectations checkpoint did not run: {self.error}")
        return out

    @property
    def acknowledged(self) -> list[str]:
        """The failed checks a release acknowledged, with who accepted them."""
        return [o.label for o in self.outcomes if not o.success and o.accepted]

    @property
    def success(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Acknowledgement:
    """What `qa-pipeline release` acknowledges: the volume checks of the extracts whose row
    drop held the batch (`batch_hold.reason`), accepted by the officer who released it."""

    by: str
    extracts: tuple[str, ...]

    @property
    def note(self) -> str:
        return f"accepted by {self.by} at release"

    def apply(self, result: ExpectationsResult) -> ExpectationsResult:
        """The result with those extracts' failed volume checks marked accepted; every other
        check (another extract's volume, the other expectations) counts as before."""
        tables = {staged_table_name(e) for e in self.extracts}
        result.outcomes = [
            replace(o, accepted=self.note)
            if o.kind == "volume" and o.table in tables and not o.success else o
            for o in result.outcomes]
        return result


def _sql(engine: sa.Engine, stmt: sa.Select[Any]) -> str:
    """The statement as literal SQL text for the engine's dialect (values are dates/words
    from this module, never user input)."""
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _previous_batch(conn: sa.Connection, as_of: date) -> date | None:
    v = conn.execute(sa.select(sa.func.max(batch.c.as_of)).where(batch.c.as_of < as_of)
                     ).scalar()
    return None if v is None else as_date(v)


def plan_checks(engine: sa.Engine, as_of: date, *,
                volume_tolerance: float = DEFAULT_VOLUME_TOLERANCE) -> list[AssetPlan]:
    """The checks of batch `as_of`, with the volume thresholds from the previous batch."""
    if not 0 <= volume_tolerance <= 1:
        raise ValueError("volume_tolerance must be between 0 and 1 (a share of the previous "
                         "batch's row count)")
    contracts = load_contracts()
    with engine.connect() as conn:
        prev = _previous_batch(conn, as_of)
        plans = [_staged_plan(conn, engine, e, as_of, prev, volume_tolerance)
                 for e in contracts.ordered()]
    return [*plans, *_indicator_plans(engine, as_of), *_issue_and_batch_plans(engine, as_of)]


def _key_checks(e: Extract, name: str) -> list[Check]:
    """A staged table's key as the contract declares it: required key columns filled in, and
    the key unique where the extract's key is unique."""
    checks = [
        Check("ExpectColumnValuesToNotBeNull", {"column": k},
              f"{name}: key column {k} is filled in on every row", "key")
        for k in e.key if e.columns[k].required  # person_id may be blank
    ]
    if e.unique:
        if len(e.key) == 1:
            checks.append(Check("ExpectColumnValuesToBeUnique", {"column": e.key[0]},
                                f"{name}: key {e.key[0]} is unique", "key"))
        else:
            checks.append(Check("ExpectCompoundColumnsToBeUnique",
                                {"column_list": list(e.key)},
                                f"{name}: key ({', '.join(e.key)}) is unique", "key"))
    return checks


def _staged_plan(conn: sa.Connection, engine: sa.Engine, e: Extract, as_of: date,
                 prev: date | None, volume_tolerance: float) -> AssetPlan:
    """The rows of `stg_<extract>` the batch loaded (its versions that hold on the batch's
    date, less the quarantined records kept open: `db.loaded_rows`): their key checks and,
    when there is a previous batch, a row count of at least `volume_tolerance` of that
    batch's (a half-empty extract is a truncated export); the threshold is counted now, so the
    check is a fixed number."""
    name = staged_table_name(e.name)
    checks = _key_checks(e, name)
    if prev is not None:
        prev_rows = int(conn.execute(
            sa.select(sa.func.count()).select_from(loaded_rows(e.name, prev).subquery())
        ).scalar_one())
        least = math.ceil(volume_tolerance * prev_rows)
        checks.append(Check(
            "ExpectTableRowCountToBeBetween", {"min_value": least},
            f"{name}: row count at least {volume_tolerance * 100:g}% of the previous batch "
            f"({least} of {prev_rows} rows on {prev.isoformat()})", "volume"))
    return AssetPlan(f"{name}_{as_of.isoformat()}", name,
                     _sql(engine, loaded_rows(e.name, as_of)), checks)


def _indicator_plans(engine: sa.Engine, as_of: date) -> list[AssetPlan]:
    """The indicators of the batch: `indicator_value` keys and arithmetic, rates within
    0-100, and every catalogue indicator recorded in `indicator_run`."""
    day = as_of.isoformat()
    iv = indicator_value
    keys = ["indicator_code", "period_type", "period_label", "breakdown", "breakdown_value"]
    values = AssetPlan(f"indicator_value_{day}", "indicator_value",
                       _sql(engine, sa.select(iv).where(iv.c.as_of == as_of)), [
        *(Check("ExpectColumnValuesToNotBeNull", {"column": k},
                f"indicator_value: {k} is filled in on every row", "key") for k in keys),
        Check("ExpectCompoundColumnsToBeUnique", {"column_list": keys},
              "indicator_value: one row per indicator, period and breakdown", "key"),
        Check("ExpectColumnPairValuesAToBeGreaterThanB",
              {"column_A": "denominator", "column_B": "numerator", "or_equal": True,
               "ignore_row_if": "either_value_is_missing"},
              "indicator_value: numerator is never greater than denominator", "indicator"),
        Check("ExpectColumnValuesToBeBetween", {"column": "denominator", "min_value": 1},
              "indicator_value: denominator is greater than 0", "indicator"),
    ])
    rates = (sa.select(iv.c.indicator_code, iv.c.period_label, iv.c.breakdown_value,
                       iv.c.value)
             .join(indicator, indicator.c.code == iv.c.indicator_code)
             .where(iv.c.as_of == as_of, indicator.c.unit == "percent"))
    rate_range = AssetPlan(f"indicator_rates_{day}", "indicator_value", _sql(engine, rates), [
        Check("ExpectColumnValuesToBeBetween",
              {"column": "value", "min_value": 0, "max_value": 100},
              "indicator_value: rates (unit percent) are between 0 and 100", "indicator"),
    ])
    ir = indicator_run
    coverage = (sa.select(indicator.c.code.label("indicator_code"), ir.c.status)
                .select_from(indicator)
                .outerjoin(ir, sa.and_(ir.c.indicator_code == indicator.c.code,
                                       ir.c.as_of == as_of)))
    runs = AssetPlan(f"indicator_run_{day}", "indicator_run", _sql(engine, coverage), [
        Check("ExpectColumnValuesToNotBeNull", {"column": "status"},
              f"indicator_run: every catalogue indicator is recorded for {day}", "catalogue"),
        Check("ExpectColumnValuesToBeInSet",
              {"column": "status", "value_set": ["computed", "skipped"]},
              "indicator_run: every indicator is computed or skipped", "catalogue"),
    ])
    return [values, rate_range, runs]


def _issue_and_batch_plans(engine: sa.Engine, as_of: date) -> list[AssetPlan]:
    """The batch's own records: every `dq_issue` complete with a known severity, and the
    batch published (exactly one `batch` row)."""
    day = as_of.isoformat()
    dq = dq_issue
    issues = AssetPlan(f"dq_issue_{day}", "dq_issue",
                       _sql(engine, sa.select(dq.c.extract, dq.c.rule_id, dq.c.severity,
                                              dq.c.message).where(dq.c.as_of == as_of)), [
        *(Check("ExpectColumnValuesToNotBeNull", {"column": c},
                f"dq_issue: {c} is filled in on every issue", "issue")
          for c in ("extract", "rule_id", "severity", "message")),
        Check("ExpectColumnValuesToBeInSet",
              {"column": "severity", "value_set": ["file_error", "error", "warning"]},
              "dq_issue: severity is file_error, error or warning", "issue"),
    ])
    published = AssetPlan(f"batch_{day}", "batch",
                          _sql(engine, sa.select(batch).where(batch.c.as_of == as_of)), [
        Check("ExpectTableRowCountToEqual", {"value": 1},
              f"batch: {day} is published", "batch"),
    ])
    return [issues, published]


def _raised(exception: dict[str, Any] | None) -> str | None:
    """The error message of an expectation that could not be evaluated (GE reports it flat
    or per metric)."""
    if not exception:
        return None
    if "raised_exception" in exception:
        return str(exception.get("exception_message") or "unknown error") \
            if exception["raised_exception"] else None
    for v in exception.values():
        if isinstance(v, dict) and (msg := _raised(v)):
            return msg
    return None


def _observed(result: dict[str, Any], exception: dict[str, Any] | None) -> str:
    if (msg := _raised(exception)) is not None:
        return f"an error: {msg}"
    if "observed_value" in result and result["observed_value"] is not None:
        v = result["observed_value"]
        return f"{v} rows" if isinstance(v, int) else str(v)
    if "unexpected_count" in result:
        return f"{result['unexpected_count']} unexpected rows"
    return "a failure"


def data_docs_dir(report_dir: Path, as_of: date) -> Path:
    """The batch's Data Docs folder; the site's shared assets are beside it, in
    `data_docs/_static/`."""
    return Path(report_dir) / "data_docs" / as_of.isoformat()


def run_checkpoint(engine: sa.Engine, as_of: date, docs_dir: Path | None = None, *,
                   volume_tolerance: float = DEFAULT_VOLUME_TOLERANCE,
                   plans: Sequence[AssetPlan] | None = None) -> ExpectationsResult:
    """Run every check of batch `as_of` in one Great Expectations checkpoint; build the Data
    Docs into `docs_dir` (replaced if it exists) unless it is None, made to open offline
    with the assets of `docs_dir`'s parent `_static/` (copied there once per site)."""
    plans = list(plans) if plans is not None else plan_checks(
        engine, as_of, volume_tolerance=volume_tolerance)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    sites: dict[str, Any] = {}
    if docs_dir is not None:
        docs_dir = Path(docs_dir)
        if docs_dir.exists():
            shutil.rmtree(docs_dir)
        docs_dir.mkdir(parents=True)
        sites[SITE_NAME] = {
            # GX's SiteBuilder, less its 4.7 MB copy of static files into every batch
            "class_name": "OfflineSiteBuilder",
            "module_name": "qa_pipeline.officers.data_docs_site",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            # validation results only: the suites' own pages would double the build time
            "site_section_builders": {"expectations": "0", "profiling": "0"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites, analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    ctx = gx.get_context(mode="ephemeral", project_config=config)
    with warnings.catch_warnings():  # "a more specific SqliteDatasource may be more
        warnings.simplefilter("ignore")  # appropriate": the generic one serves both dialects
        source = ctx.data_sources.add_sql(
            name="reporting",
            connection_string=engine.url.render_as_string(hide_password=False))
    by_key: dict[tuple[str, int], tuple[AssetPlan, Check]] = {}
    definitions = []
    for plan in plans:
        asset = source.add_query_asset(name=plan.name, query=plan.query)
        suite = ctx.suites.add(gx.ExpectationSuite(name=plan.name))
        for n, check in enumerate(plan.checks):
            cls = getattr(gxe, check.expectation)
            suite.add_expectation(cls(**check.kwargs, description=check.description,
                                      meta={"qa_asset": plan.name, "qa_check": n}))
            by_key[(plan.name, n)] = (plan, check)
        definitions.append(ctx.validation_definitions.add(gx.ValidationDefinition(
            name=plan.name, data=asset.add_batch_definition_whole_table("batch"),
            suite=suite)))
    actions: list[Any] = (
        [gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])]
        if docs_dir is not None else [])
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(
        name=f"qa_pipeline_{as_of.isoformat()}", validation_definitions=definitions,
        actions=actions, result_format="SUMMARY"))
    result = checkpoint.run()

    outcomes: list[Outcome] = []
    for suite_result in result.run_results.values():
        for r in suite_result.results:
            meta = (r.expectation_config.meta if r.expectation_config else None) or {}
            plan, check = by_key[(meta["qa_asset"], int(meta["qa_check"]))]
            outcomes.append(Outcome(
                name=check.description, table=plan.table, kind=check.kind,
                success=bool(r.success),
                observed=_observed(dict(r.result or {}), dict(r.exception_info or {}))))
    docs = docs_dir / "index.html" if docs_dir is not None else None
    if docs is not None and docs.exists():
        make_offline(docs.parent)
    return ExpectationsResult(as_of=as_of, outcomes=outcomes,
                              data_docs_path=docs if docs and docs.exists() else None)
