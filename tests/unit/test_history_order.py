"""The history does not depend on the order the nights were published in: nights of random
observations (values, absent, quarantined, file not loaded), published in a random order with
re-runs, through `plan_versions` applied as `write_history` applies it, give the versions a
plain run-length reading of the nights in date order gives."""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
import pytest

from qa_pipeline.load.history import VERSION_SCHEMA, plan_versions

ABSENT, UNKNOWN = "-", "?"


def _naive(obs: dict[date, dict[str, str]], unloaded: set[date], published: list[date],
           records: list[str]) -> set[tuple[str, date, date | None, str]]:
    """Versions from the observations of the published nights, read in date order: an
    unknown night (quarantined, or the file not loaded) keeps the state before it."""
    nights = sorted(published)
    out = set()
    for r in records:
        state, since = ABSENT, None
        for i, d in enumerate(nights):
            seen = UNKNOWN if d in unloaded else obs[d][r]
            new = state if seen == UNKNOWN else seen
            if new != state:
                if state != ABSENT:
                    out.add((r, since, d, state))
                state, since = new, d
            if i == len(nights) - 1 and state != ABSENT:
                out.add((r, since, None, state))
    return out


class _Memory:
    """The history table, `history_carried` and the unloaded nights, in memory."""

    def __init__(self) -> None:
        self.versions = pl.DataFrame(schema=VERSION_SCHEMA)
        self.published: set[date] = set()
        self.carried: dict[date, set[str]] = {}
        self.next_id = 1

    def publish(self, as_of: date, seen: dict[str, str], loaded: bool,
                unloaded: set[date]) -> None:
        before = [d for d in self.published if d < as_of]
        prior = max(before) if before else None
        nights = sorted({d for d in self.published if prior is None or d >= prior} | {as_of})
        v = self.versions
        stored = v.filter(pl.col("valid_to").is_null() | (pl.col("valid_to") > nights[0])
                          ) if prior is not None else v
        tonight = None
        if loaded:
            present = {r: h for r, h in seen.items() if h not in (ABSENT, UNKNOWN)}
            tonight = pl.DataFrame({"record_id": list(present), "occurrence": [1] * len(present),
                                    "record_hash": list(present.values())},
                                   schema={"record_id": pl.String(), "occurrence": pl.Int64(),
                                           "record_hash": pl.String()})
            self.carried[as_of] = {r for r, h in seen.items() if h == UNKNOWN}
        else:
            self.carried.pop(as_of, None)
        pairs = [(r, d) for d in nights for r in self.carried.get(d, set())]
        carried = pl.DataFrame(pairs, schema={"record_id": pl.String(), "b": pl.Date()},
                               orient="row")
        plan = plan_versions(nights, as_of, stored, tonight, carried,
                             {d for d in nights if d != as_of and d in unloaded},
                             prior is not None)
        keep = v.filter(~pl.col("version_id").is_in(plan.delete))
        moved = plan.retime.rename({"valid_to": "moved"}).with_columns(
            pl.lit(True).alias("m"))
        keep = keep.join(moved, on="version_id", how="left").with_columns(
            pl.when(pl.col("m").fill_null(False)).then(pl.col("moved"))
            .otherwise(pl.col("valid_to")).alias("valid_to")).select(list(VERSION_SCHEMA))
        new = plan.insert.with_columns(
            (pl.int_range(pl.len()) + self.next_id).cast(pl.Int64).alias("version_id"))
        self.next_id += new.height
        self.versions = pl.concat([keep, new.select(list(VERSION_SCHEMA))], how="vertical_relaxed")
        self.published.add(as_of)

    def rows(self) -> set[tuple[str, date, date | None, str]]:
        return set(self.versions.select("record_id", "valid_from", "valid_to",
                                        "record_hash").iter_rows())


@pytest.mark.parametrize("seed", range(40))
def test_any_publication_order_gives_the_date_order_history(seed: int) -> None:
    rnd = random.Random(seed)
    records = [f"R{i}" for i in range(rnd.randint(1, 6))]
    nights = [date(2026, 11, 1) + timedelta(days=i) for i in range(rnd.randint(2, 6))]
    obs = {d: {r: rnd.choice(["a", "a", "b", ABSENT, UNKNOWN]) for r in records}
           for d in nights}
    unloaded = {d for d in nights if rnd.random() < 0.15}
    order = nights[:]
    rnd.shuffle(order)
    order += rnd.sample(nights, rnd.randint(0, 2))  # re-runs
    memory = _Memory()
    for d in order:
        memory.publish(d, obs[d], d not in unloaded, unloaded)
        published = sorted(memory.published)
        assert memory.rows() == _naive(obs, unloaded, published, records), (
            f"after publishing {d} (order {order})")
    ids = memory.versions["version_id"].to_list()
    assert len(ids) == len(set(ids))
