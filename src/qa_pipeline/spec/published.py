"""The published tables and views of the reporting database, declared once
(`qa_pipeline/spec/published.yaml`) and loaded into typed objects.

Every column is declared once there (logical type, nullability, description, the SQL comment
the migrations gave it, what it refers to); from these objects come the SQLAlchemy tables
(`load/db.py`), the polars schemas of the frames written to them (`polars_schema`), the row
mappings of the publish (`row`), the relations the BI role may read (`bi_relations`) and
docs/reporting-db.md (`spec/docs.py`). The staged tables `stg_<extract>` are declared by the
extract contracts instead. Like the contracts, the parser refuses any key it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import yaml

from qa_pipeline.spec.contracts import ContractError

if TYPE_CHECKING:
    import polars as pl

LogicalType = Literal["date", "datetime", "string", "text", "int", "bool", "double"]
LOGICAL_TYPES: tuple[str, ...] = ("date", "datetime", "string", "text", "int", "bool", "double")
KINDS: tuple[str, ...] = ("table", "view")

# Every key each level of published.yaml allows, declared once (the parser refuses others).
TOP_KEYS: frozenset[str] = frozenset({"version", "relations"})
RELATION_KEYS: frozenset[str] = frozenset(
    {"kind", "bi", "row", "description", "primary_key", "indexes", "columns"})
VIEW_KEYS: frozenset[str] = frozenset({"kind", "bi", "row", "columns"})
COLUMN_KEYS: frozenset[str] = frozenset(
    {"type", "length", "nullable", "description", "comment", "references"})



def polars_type(logical: str) -> pl.DataType:
    """The polars type of a frame column written to a column of each logical type (polars
    is imported only here: the command line reads the declaration without it)."""
    import polars as pl

    return {
        "date": pl.Date(), "datetime": pl.Datetime("us"), "string": pl.String(),
        "text": pl.String(), "int": pl.Int64(), "bool": pl.Boolean(), "double": pl.Float64(),
    }[logical]

CONTRACT_TYPES: dict[str, str] = {
    "id": "string", "text": "text", "code": "string", "flag": "string", "date": "date",
    "datetime": "datetime", "int": "int",
}
"""The logical type of a staged column of each contract type (extracts.yaml)."""

SQL_WORDS: dict[str, str] = {
    "date": "DATE", "datetime": "TIMESTAMP (UTC)", "string": "VARCHAR", "text": "TEXT",
    "int": "INTEGER", "bool": "BOOLEAN", "double": "DOUBLE PRECISION",
}
"""How docs/reporting-db.md names each logical type."""


class DeclarationError(ContractError):
    """published.yaml is inconsistent (a fault in the project, not in the data)."""


@dataclass(frozen=True)
class PublishedColumn:
    """One column BI reads: its logical type, nullability and what it means."""

    name: str
    type: LogicalType
    description: str
    nullable: bool = True
    length: int | None = None
    """A string's VARCHAR(length); None: no limit (a string only)."""
    comment: str | None = None
    """The SQL comment the frozen migrations gave the column (not always the description)."""
    references: str | None = None
    """`relation.column` it names; documentation only (the database has no foreign keys)."""

    @property
    def sql_type(self) -> str:
        word = SQL_WORDS[self.type]
        return f"{word}({self.length})" if self.length else word


@dataclass(frozen=True)
class Relation:
    """One published table or view."""

    name: str
    kind: Literal["table", "view"]
    bi: bool
    row: str
    columns: Mapping[str, PublishedColumn]
    description: str | None = None
    primary_key: tuple[str, ...] = ()
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def column_names(self, *, exclude: tuple[str, ...] = ()) -> list[str]:
        return [n for n in self.columns if n not in exclude]

    def pick(self, *names: str) -> list[str]:
        """`names`, each a declared column (a KeyError names the relation and column)."""
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise KeyError(f"{self.name} declares no column {', '.join(unknown)}")
        return list(names)


@dataclass(frozen=True)
class Published:
    version: int
    relations: Mapping[str, Relation]

    def __getitem__(self, name: str) -> Relation:
        return self.relations[name]

    def tables(self) -> list[Relation]:
        return [r for r in self.relations.values() if r.kind == "table"]

    def views(self) -> list[Relation]:
        return [r for r in self.relations.values() if r.kind == "view"]

    def bi_relations(self) -> tuple[str, ...]:
        """The relations the BI role may read, in declaration order."""
        return tuple(r.name for r in self.relations.values() if r.bi)


def _check_keys(raw: Any, allowed: frozenset[str], where: str,
                required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DeclarationError(f"{where}: expected a mapping of keys, not {raw!r}")
    for key in raw:
        if key not in allowed:
            raise DeclarationError(
                f"{where}: unknown key {key!r} (one of {', '.join(sorted(allowed))})")
    for key in required:
        if key not in raw:
            raise DeclarationError(f"{where}: missing key {key!r}")
    return raw


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeclarationError(f"{where}: expected a text, not {value!r}")
    return " ".join(value.split())


def _names(value: Any, columns: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise DeclarationError(f"{where}: expected a list of columns, not {value!r}")
    for v in value:
        if v not in columns:
            raise DeclarationError(f"{where}: unknown column {v!r}")
    return tuple(value)


def _column(name: str, raw: Any, where: str) -> PublishedColumn:
    raw = _check_keys(raw, COLUMN_KEYS, where, required=("type", "description"))
    ctype = raw["type"]
    if ctype not in LOGICAL_TYPES:
        raise DeclarationError(
            f"{where}: unknown type {ctype!r} (one of {', '.join(LOGICAL_TYPES)})")
    length = raw.get("length")
    if length is not None and (ctype != "string" or not isinstance(length, int)
                               or isinstance(length, bool) or length < 1):
        raise DeclarationError(f"{where}: length is a positive number, for a string only")
    nullable = raw.get("nullable", True)
    if not isinstance(nullable, bool):
        raise DeclarationError(f"{where}: nullable is true or false, not {nullable!r}")
    description = _text(raw["description"], f"{where}, description")
    comment = raw.get("comment")
    if comment is True:
        comment = description
    elif comment is not None:
        comment = _text(comment, f"{where}, comment")
    references = raw.get("references")
    if references is not None:
        references = _text(references, f"{where}, references")
    return PublishedColumn(name=name, type=ctype, description=description, nullable=nullable,
                           length=length, comment=comment, references=references)


def _relation(name: str, raw: Any, source: str) -> Relation:
    where = f"{source}: relation {name}"
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in KINDS:
        raise DeclarationError(f"{where}: kind is table or view, not {kind!r}")
    raw = _check_keys(raw, RELATION_KEYS if kind == "table" else VIEW_KEYS, where,
                      required=("kind", "bi", "row", "columns")
                      + (("description", "primary_key") if kind == "table" else ()))
    if not isinstance(raw["bi"], bool):
        raise DeclarationError(f"{where}: bi is true or false, not {raw['bi']!r}")
    rcols = raw["columns"]
    if not isinstance(rcols, dict) or not rcols:
        raise DeclarationError(f"{where}: columns must be a mapping of column declarations")
    columns = {c: _column(c, spec, f"{where}, column {c}") for c, spec in rcols.items()}
    for key in raw.get("primary_key", ()):
        if key in columns and columns[key].nullable:
            raise DeclarationError(f"{where}, column {key}: a primary key column needs "
                                   "nullable: false")
    indexes_raw = raw.get("indexes", {})
    if not isinstance(indexes_raw, dict):
        raise DeclarationError(f"{where}: indexes must map an index name to its columns")
    return Relation(
        name=name, kind=kind, bi=raw["bi"], row=_text(raw["row"], f"{where}, row"),
        columns=columns,
        description=(_text(raw["description"], f"{where}, description")
                     if "description" in raw else None),
        primary_key=(_names(raw["primary_key"], columns, f"{where}, primary_key")
                     if "primary_key" in raw else ()),
        indexes={i: _names(cols, columns, f"{where}, index {i}")
                 for i, cols in indexes_raw.items()},
    )


def parse_published(data: Any, source: str = "published.yaml") -> Published:
    """The declaration from its parsed YAML; DeclarationError names the relation and key at
    fault."""
    data = _check_keys(data, TOP_KEYS, source, required=("version", "relations"))
    raw = data["relations"]
    if not isinstance(raw, dict) or not raw:
        raise DeclarationError(f"{source}: relations must be a mapping of relations")
    relations = {name: _relation(name, spec, source) for name, spec in raw.items()}
    for rel in relations.values():
        for col in rel.columns.values():
            if col.references is None:
                continue
            target, _, target_col = col.references.partition(".")
            if target not in relations or target_col not in relations[target].columns:
                raise DeclarationError(f"{source}: relation {rel.name}, column {col.name}: "
                                       f"references unknown column {col.references!r}")
    return Published(version=int(data["version"]), relations=relations)


@cache
def published() -> Published:
    """The packaged declaration (read once)."""
    text = resources.files("qa_pipeline.spec").joinpath("published.yaml").read_text("utf-8")
    return parse_published(yaml.safe_load(text), "spec/published.yaml")


def polars_schema(relation: str, *, exclude: tuple[str, ...] = ()) -> dict[str, pl.DataType]:
    """The polars schema of a frame written to `relation`: its declared columns (less
    `exclude`, e.g. a surrogate key the database assigns), in declared order."""
    rel = published()[relation]
    return {n: polars_type(rel.columns[n].type) for n in rel.column_names(exclude=exclude)}


def row(relation: str, item: Any, *, rename: Mapping[str, str] | None = None,
        exclude: tuple[str, ...] = (), **values: Any) -> dict[str, Any]:
    """One row of `relation` for `item`: every declared column (less `exclude`) from the
    attribute (or, for a mapping, the key) of the same name, or the one `rename` maps it to,
    unless given in `values`. A name the item lacks is an error (AttributeError, KeyError),
    never a silently missing column."""
    rename = rename or {}
    rel = published()[relation]
    unknown = set(values) - set(rel.columns) | set(rename) - set(rel.columns)
    if unknown:
        raise KeyError(f"{relation} has no column {', '.join(sorted(unknown))}")
    def get(n: str) -> Any:
        if n in values:
            return values[n]
        key = rename.get(n, n)
        return item[key] if isinstance(item, Mapping) else getattr(item, key)

    return {n: get(n) for n in rel.column_names(exclude=exclude)}
