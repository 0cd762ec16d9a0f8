"""The package's layout: every module in a folder that names its layer, imports going down the
layers, no private name crossing a module, the flow's entry point thin."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "qa_pipeline"
LAYERS = {"spec", "i18n", "ingest", "privacy", "transform", "load", "officers", "ops", "cli",
          "orchestrate", "sample"}
# What only the top (the command line, Prefect, the job runners themselves: the nightly job
# and the rebuild that replays it) may import.
JOB_RUNNERS = {"job.py", "rebuild.py"}
TOP = ("qa_pipeline.ops.job", "qa_pipeline.ops.rebuild", "qa_pipeline.cli",
       "qa_pipeline.orchestrate")


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every `from qa_pipeline... import` and `import qa_pipeline...`."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qa_pipeline"):
            out.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("qa_pipeline")]
    return out


def test_every_module_lives_in_a_layer_folder() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py"]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == LAYERS
    for folder in folders:  # each says what it is for
        assert ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))


def test_nothing_below_the_top_imports_the_job_the_cli_or_prefect() -> None:
    offenders = []
    for path in _modules():
        layer = path.relative_to(PACKAGE).parts[0]
        if layer in {"cli", "orchestrate", "__main__.py"} or (
                layer == "ops" and path.name in JOB_RUNNERS):
            continue
        offenders += [f"{path.relative_to(PACKAGE)} imports {m}" for m, _ in _imports(path)
                      if m.startswith(TOP)]
    assert offenders == []


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = [f"{path.relative_to(PACKAGE)}: {name} from {module}"
                 for path in _modules() for module, names in _imports(path)
                 for name in names if name.startswith("_") and name != "__version__"]
    assert offenders == []


def test_the_officers_modules_do_not_take_helpers_from_the_excel_module() -> None:
    for name in ("report.py", "exceptions.py", "expectations.py", "issues.py"):
        modules = [m for m, _ in _imports(PACKAGE / "officers" / name)]
        assert "qa_pipeline.officers.worklists" not in modules, name


def test_the_flow_entry_point_is_thin() -> None:
    tree = ast.parse((ROOT / "flows" / "nightly.py").read_text(encoding="utf-8"))
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defs == []
    assert [m for m, _ in _imports(ROOT / "flows" / "nightly.py")] == [
        "qa_pipeline.orchestrate.flow"]
