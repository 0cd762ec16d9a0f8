"""The generator's view of the contracts: the extracts, their columns in order and their id spaces.

Everything here is read from :func:`qa_pipeline.spec.contracts.load_contracts` (the packaged
contracts): the generator restates no extract, column or code list. The one thing of its own is
how ids are *formatted* (:data:`ID_NAMESPACES`): a letter prefix and digit widths per id space.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from qa_pipeline.spec.contracts import Contracts, load_contracts, packaged_contracts_path

__all__ = ["CONTRACTS", "EXTRACTS", "ID_NAMESPACES", "SCHEMA", "id_namespace", "kinds"]

CONTRACTS: Contracts = load_contracts(packaged_contracts_path())
"""The packaged contracts (never a site's copy: the same arguments give the same bytes)."""

SETTINGS: dict[str, Any] = yaml.safe_load(
    (resources.files("qa_pipeline.sample") / "sample.yaml").read_text(encoding="utf-8"))
"""The generator's own settings (sample.yaml): id formats and the deliberate defects."""

ID_NAMESPACES: dict[str, tuple[str, int, int]] = {
    space: (str(prefix), int(numeric), int(prefixed))
    for space, (prefix, numeric, prefixed) in SETTINGS["id_spaces"].items()}
"""Id space -> (prefix, digits when numeric, digits after the prefix); order matters."""

# An id column's space is named after the column it finally names (its reference followed to
# the end), without "_id"; these two column names name a space called otherwise.
_SPACE_ALIASES = {"child": "person", "review": "cin_review"}


def id_namespace(contracts: Contracts, extract: str, column: str) -> str:
    """The id space of an id column: follow its references to the column it finally names."""
    seen = set()
    while (extract, column) not in seen:
        seen.add((extract, column))
        ref = next((r for r in contracts.extracts[extract].references
                    if column in r.columns), None)
        if ref is None or ref.extract == extract:
            break
        extract, column = ref.extract, ref.to_columns[ref.columns.index(column)]
    name = column.removesuffix("_id")
    return _SPACE_ALIASES.get(name, name)


def _schema(contracts: Contracts) -> dict[str, tuple[tuple[str, str], ...]]:
    """Column kinds in contract order: "id:<space>", "date", "datetime", "flag", "code"..."""
    return {
        name: tuple(
            (col.name, f"id:{id_namespace(contracts, name, col.name)}" if col.type == "id"
             else col.type)
            for col in extract.columns.values()
        )
        for name, extract in contracts.extracts.items()
    }


EXTRACTS: tuple[str, ...] = tuple(CONTRACTS.extracts)
"""The extracts in contract order (the order the files are written in)."""

SCHEMA: dict[str, tuple[tuple[str, str], ...]] = _schema(CONTRACTS)
"""extract -> ((column, kind), ...) in contract order."""


def kinds(extract: str) -> set[str]:
    """The column kinds an extract has."""
    return {kind for _, kind in SCHEMA[extract]}
