"""docs/rules.md, generated from the contracts: the data officers' catalogue of columns and
rules. A test fails when the committed file differs from what the contracts generate."""

from __future__ import annotations

from pathlib import Path

from qa_pipeline.ops.files import write_text_atomic
from qa_pipeline.spec.contracts import Column, Contracts, Rule, load_contracts
from qa_pipeline.spec.published import CONTRACT_TYPES, SQL_WORDS, Published, published

HEADER = """# Extract contracts and data-quality rules

Generated from the contracts (`src/qa_pipeline/spec/extracts.yaml`, or a site's own
copy named by the setting `contracts_file`) by `qa-pipeline docs`; do not edit by hand.

Each rule has a stable `rule_id` (it appears in `dq_issue.rule_id` and `dq_rule`).
Severities: **file_error** — the whole file is rejected, nothing of it is loaded;
**error** — the row is quarantined (kept out of the case tables and the indicators);
**warning** — the row is loaded and used, and listed for the data officers.

A row that refers to a record which exists but was itself quarantined (a **dependent row**,
extracts.md "Severity") is loaded, with one `<extract>.<column>.reference_quarantined`
warning whose `root_rule_id` and `root_record_id` name the quarantined record's own fault
(its root cause): the officer fixes that one record, not its whole family. The row is kept
out of exactly the indicators that read the quarantined record (indicators.md, "Dependent
rows"; the drill-through gives the `excluded_reason`); comparisons with the parent (same
child, dates against the parent's) are not applied to it. A reference that names no record
at all stays an error (`unresolved_reference`). When the referenced extract is missing or
rejected, references to it are not checked: the rows are loaded and one
`<extract>.reference_not_checked` warning says so.
"""


def _requirement(c: Column) -> str:
    if c.required:
        return "required"
    if c.required_when is not None:
        return f"required {c.required_when.describe()}"
    return ""


def _allowed(c: Column) -> str:
    if c.type == "code":
        return ", ".join(f"`{k}`" + (f" ({v})" if v else "") for k, v in c.codes.items())
    if c.type == "flag":
        return "/".join(f"`{f}`" for f in c.flags)
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


RULES_TABLE = ("| rule_id | severity | message | guidance | neges (Cymraeg) | "
               "canllaw (Cymraeg) |\n|---|---|---|---|---|---|")
"""Each rule's message and guidance in English and in Welsh, side by side as declared."""


def _rule_line(r: Rule) -> str:
    return (f"| `{r.rule_id}` | {r.severity} | {_cell(r.message)} | {_cell(r.guidance)} | "
            f"{_cell(r.message_cy)} | {_cell(r.guidance_cy)} |")


def render_rules(contracts: Contracts) -> str:
    out = [HEADER]
    out.append("## Batch\n")
    out.append(RULES_TABLE)
    out += [_rule_line(r) for r in contracts.batch_rules]
    out.append("")
    for e in contracts.ordered():
        out.append(f"## {e.file_name}\n")
        out.append(f"{e.description} One row: a {e.label} (*{e.label_cy}*). Key: "
                   f"{', '.join(f'`{k}`' for k in e.key)}"
                   f"{' (unique)' if e.unique else ''}.\n")
        out.append("| column | type | requirement | allowed values | description |")
        out.append("|---|---|---|---|---|")
        for c in e.columns.values():
            out.append(f"| `{c.name}` | {c.type} | {_requirement(c)} | {_cell(_allowed(c))} | "
                       f"{_cell(c.description)} |")
        out.append("")
        out.append(RULES_TABLE)
        out += [_rule_line(r) for r in e.rules]
        out.append("")
    return "\n".join(out)


INDICATORS_HEADER = """# Indicators

Generated from the definitions in `src/qa_pipeline/transform/indicators.py` and the values in the
indicator configuration (`src/qa_pipeline/spec/indicators.yaml`, or a site's own copy named
by the setting `indicators_file`) by `qa-pipeline docs`; do not edit by hand. The exact
definitions are those of `indicators.md` (shared spec); timescales and targets come from the
configuration, and the `indicator` table of the reporting database stores the same text with
the values used.

Every indicator is computed per calendar month (`2013-04`), financial quarter (`2013-14 Q1`)
and financial year (`2013-14`), for the whole authority (`breakdown = 'all'`) and per team
(`breakdown = 'team'`); only rows with a denominator above 0 and a period starting on or before
the extract date exist. wd(a, b) counts working days (Monday–Friday except England and Wales
bank holidays) after a up to and including b. An indicator whose extracts were missing or
rejected in a batch is not recomputed for it (`indicator_run.status = 'skipped'`), and
`indicator_value_latest` keeps showing its last computed values.

The cases behind every value of the latest batch are in `indicator_case_latest`.

A **dependent row** (a row whose reference names a quarantined record: `indicators.md`,
"Dependent rows") counts in every indicator except those that read the quarantined record;
each indicator below says which, if any. Such a case is listed in the drill-through with
outcome `excluded` and an `excluded_reason`, and counts in neither numerator nor denominator.
"""


def render_indicators() -> str:
    from qa_pipeline.transform.indicators import CATALOGUE, catalogue_rows, load_config

    rows = {r["code"]: r for r in catalogue_rows(load_config())}
    out = [INDICATORS_HEADER]
    out.append("| code | title | unit | better | target |\n|---|---|---|---|---|")
    for i in CATALOGUE:
        r = rows[i.code]
        target = "—" if r["target"] is None else f"{r['target']:g}"
        better = "higher" if r["polarity"] == "higher_is_better" else "lower"
        out.append(f"| [{i.code}](#{i.code.lower()}) | {_cell(r['title'])} | {r['unit']} | "
                   f"{better} | {target} |")
    out.append("")
    for i in CATALOGUE:
        r = rows[i.code]
        out.append(f"## {i.code}\n\n**{r['title']}**\n")
        if r["title_cy"]:
            out.append(f"*{r['title_cy']}*\n")
        out.append(f"- Source: {r['source']}")
        out.append(f"- Denominator: {r['denominator_definition']}")
        label = "Median of" if i.numerator is None else "Numerator"
        out.append(f"- {label}: {r['numerator_definition']}")
        if r["title_cy"]:
            out.append(f"- Enwadur (Cymraeg): {r['denominator_definition_cy']}")
            label_cy = "Canolrif" if i.numerator is None else "Rhifiadur"
            out.append(f"- {label_cy} (Cymraeg): {r['numerator_definition_cy']}")
        out.append(f"- Period: by {r['event_date']}")
        out.append(f"- Team: {r['team']}")
        out.append(f"- Unit: {r['unit']}; {r['polarity'].replace('_', ' ')}")
        if i.timescales:
            used = ", ".join(f"`{k}` = {load_config().timescales[k]}" for k in i.timescales)
            out.append(f"- Timescales (configuration): {used}")
        out.append(f"- Target: {'none set' if r['target'] is None else r['target']}")
        out.append(f"- Needs the extracts: {r['requires'].replace(',', ', ')}")
        parent = (i.excluded_by or "").removesuffix("_quarantined").replace(
            "_", " ").replace("cin ", "CIN ")
        out.append(f"- Dependent rows left out: those whose {parent} was quarantined"
                   if i.excluded_by else "- Dependent rows left out: none (all counted)")
        out.append("")
    return "\n".join(out)


REPORTING_HEADER = """# The reporting database

Generated from the declaration of the published tables and views
(`src/qa_pipeline/spec/published.yaml`) and the extract contracts
(`src/qa_pipeline/spec/extracts.yaml`) by `qa-pipeline docs`; do not edit by hand. The
interface BI tools may rely on is the shared spec `reporting-db.md`; this file describes every
relation of the project's schema that BI reads and every column of it, with its SQL type on
PostgreSQL (SQLite stores the same types under its own names). On PostgreSQL the BI role reads
the relations marked *BI* through the `reporting` schema (`qa-pipeline db grant-reporting`),
never the base tables. A column's *refers to* names the column of another relation holding the
value; it is not enforced by a constraint.
"""


def _relation_section(p: Published, name: str) -> list[str]:
    rel = p[name]
    kind = "view" if rel.kind == "view" else "table"
    out = [f"### {rel.name}\n", f"A {kind}{', read by BI' if rel.bi else ''}. One row: "
           f"{rel.row}."]
    if rel.description:
        out[-1] += f" {rel.description}"
    if rel.primary_key:
        out[-1] += f" Primary key: {', '.join(f'`{k}`' for k in rel.primary_key)}."
    out += ["", "| column | type | nullable | description |", "|---|---|---|---|"]
    for c in rel.columns.values():
        ref = f" Refers to `{c.references}`." if c.references else ""
        out.append(f"| `{c.name}` | {c.sql_type} | {'yes' if c.nullable else 'no'} | "
                   f"{_cell(c.description)}{ref} |")
    out.append("")
    return out


def render_reporting_db(contracts: Contracts, declaration: Published | None = None) -> str:
    """docs/reporting-db.md: every declared relation and column, then the staged tables."""
    p = declaration or published()
    out = [REPORTING_HEADER]
    out.append("## Read by BI\n")
    for name in p.bi_relations():
        out += _relation_section(p, name)
    others = [r.name for r in p.relations.values() if not r.bi]
    out.append("## Not read by BI\n")
    out.append("Read through the views above, or by the pipeline only.\n")
    for name in others:
        out += _relation_section(p, name)
    out.append("## Case tables: record history\n")
    out.append("`<extract>_history`: one row per version of a record of an extract, typed as "
               "its contract declares (docs/rules.md); not read by BI (reporting-db.md 1.1, "
               "Record history). A version holds from `valid_from` (the first published "
               "batch with these values) until `valid_to` (the first later published batch "
               "in which the record has other values or is absent; null while current); the "
               "record as it stood on D is the version with `valid_from <= D AND (valid_to "
               "IS NULL OR valid_to > D)`. A record quarantined in a batch, or in a file "
               "missing or rejected that night, keeps its version open. Two views over each: "
               "`<extract>_current` (the versions with `valid_to` null) and `stg_<extract>` "
               "(the current records with the latest published batch's `as_of`, for the "
               "reports that read the staged tables of earlier versions).\n")
    for e in contracts.ordered():
        out.append(f"### {e.name}_history\n")
        out.append(f"{e.description} One row: a version of a {e.label}. Record key "
                   f"(`record_id`): {' | '.join(f'`{k}`' for k in e.key)}"
                   f"{'' if e.unique else ' (not unique: `occurrence` numbers the rows of a key)'}"
                   ".\n")
        out += ["| column | type | nullable | description |", "|---|---|---|---|",
                "| `version_id` | INTEGER | no | The version's key; BI joins the "
                "drill-through (`indicator_case.version_id`) on it. |",
                "| `record_id` | TEXT | no | The record's key as in dq_issue. |",
                "| `occurrence` | INTEGER | no | 1; for a key that is not unique, the row's "
                "number among those of its key. |",
                "| `valid_from` | DATE | no | as_of of the first published batch that holds "
                "this version. |",
                "| `valid_to` | DATE | yes | as_of of the first later published batch in "
                "which the record has other values or is absent; null while current. |",
                "| `record_hash` | VARCHAR(16) | no | Hash of the version's values. |"]
        for c in e.columns.values():
            out.append(f"| `{c.name}` | {SQL_WORDS[CONTRACT_TYPES[c.type]]} | yes | "
                       f"{_cell(c.description)} |")
        out.append("")
    return "\n".join(out)


def write_docs(folder: Path) -> list[Path]:
    """Regenerate every generated doc into `folder` (rendered first: a broken contract file
    writes nothing)."""
    contracts = load_contracts()
    texts = {"rules.md": render_rules(contracts), "indicators.md": render_indicators(),
             "reporting-db.md": render_reporting_db(contracts)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        write_text_atomic(folder / name, text)  # a reader never sees half a page
    return [folder / name for name in texts]
