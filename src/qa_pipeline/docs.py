"""docs/rules.md, generated from the contracts: the data officers' catalogue of columns and
rules. A test fails when the committed file differs from what the contracts generate."""

from __future__ import annotations

from pathlib import Path

from qa_pipeline.contracts import Column, Contracts, load_contracts

HEADER = """# Extract contracts and data-quality rules

Generated from `contracts/extracts.yaml` by `qa-pipeline docs`; do not edit by hand.

Each rule has a stable `rule_id` (it appears in `dq_issue.rule_id` and `dq_rule`).
Severities: **file_error** — the whole file is rejected, nothing of it is loaded;
**error** — the row is quarantined (kept out of the case tables and the indicators);
**warning** — the row is loaded and used, and listed for the data officers.

A row that refers to a record which was itself quarantined is quarantined too, under the
rule `<extract>.<column>.reference_quarantined`, so the case tables never hold a dangling
reference. When the referenced extract is missing or rejected, references to it are not
checked: the rows are loaded and one `<extract>.reference_not_checked` warning says so.
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


def render_rules(contracts: Contracts) -> str:
    out = [HEADER]
    out.append("## Batch\n")
    out.append("| rule_id | severity | message | guidance |\n|---|---|---|---|")
    for r in contracts.batch_rules:
        out.append(f"| `{r.rule_id}` | {r.severity} | {_cell(r.message)} | {_cell(r.guidance)} |")
    out.append("")
    for e in contracts.ordered():
        out.append(f"## {e.file_name}\n")
        out.append(f"{e.description} One row: a {e.label}. Key: "
                   f"{', '.join(f'`{k}`' for k in e.key)}"
                   f"{' (unique)' if e.unique else ''}.\n")
        out.append("| column | type | requirement | allowed values | description |")
        out.append("|---|---|---|---|---|")
        for c in e.columns.values():
            out.append(f"| `{c.name}` | {c.type} | {_requirement(c)} | {_cell(_allowed(c))} | "
                       f"{_cell(c.description)} |")
        out.append("")
        out.append("| rule_id | severity | message | guidance |\n|---|---|---|---|")
        for r in e.rules:
            out.append(f"| `{r.rule_id}` | {r.severity} | {_cell(r.message)} | "
                       f"{_cell(r.guidance)} |")
        out.append("")
    return "\n".join(out)


def write_rules_doc(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_rules(load_contracts()), encoding="utf-8")
    return path
