"""No function in src/qa_pipeline is longer than 80 lines (the frozen Alembic migrations aside).

A function's length is counted from its first decorator to its last line, nested functions
included in the enclosing one (and checked on their own too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "qa_pipeline"
MAX_LINES = 80
FROZEN = PACKAGE / "load" / "migrations" / "versions"


def _lengths() -> list[tuple[str, int]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if FROZEN in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                out.append((f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}", length))
    return out


def test_no_function_is_longer_than_80_lines() -> None:
    too_long = [f"{where} ({n} lines)" for where, n in _lengths() if n > MAX_LINES]
    assert too_long == []


def test_the_count_sees_the_functions() -> None:
    assert len(_lengths()) > 500
