"""The Prefect flow wires the library: one harness for the session (~8 s), a few runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from qa_pipeline.ops import job as pipeline
from tests.batch_builder import AS_OF, base, write_batch

pytestmark = pytest.mark.prefect


def _artifacts(key_prefix: str) -> list[object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> list[object]:
        async with get_client() as client:
            return list(await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=key_prefix))))

    return asyncio.run(read())


@pytest.mark.aftercare
def test_nightly_flow_processes_landing_folder(prefect_harness: None, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches published in date order with their artifacts; the result carries each
    batch's root-cause counts (through the tasks) and the night's notification outcome: a
    destination that is down is a warning, not a failure."""
    import socket

    from flows.nightly import nightly

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_URLS", f"json://127.0.0.1:{closed}/hook")
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_TIMEOUT_SECONDS", "5")

    landing = tmp_path / "landing"
    older = base()
    older["referrals"][1]["referral_source"] = "ZZZ"
    write_batch(landing, older, as_of=AS_OF - timedelta(days=1))
    newer = base()
    del newer["cin_reviews"]
    write_batch(landing, newer, as_of=AS_OF)
    db_url = f"sqlite:///{tmp_path / 'qa.db'}"

    night = nightly(str(landing), db_url, str(tmp_path / "work"))
    results = night["batches"]
    assert night["exit_code"] == 3
    assert [(r["as_of"], r["status"]) for r in results] == [
        ((AS_OF - timedelta(days=1)).isoformat(), "succeeded"),
        (AS_OF.isoformat(), "succeeded_with_issues"),
    ]
    counts = [r["root_causes"] for r in results]
    assert all(r["checks_run"] for r in results)
    assert [(c["new"], c["persisting"], c["resolved"]) for c in counts] == [(1, 0, 0),
                                                                          (1, 0, 1)]
    # new in the second: the missing file; resolved: the unknown referral source
    assert counts[1]["new_by_rule"] == {"cin_reviews.file_missing": 1}
    assert night["notified"] == [] and len(night["notify_warnings"]) == 1
    engine = make_engine(db_url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT as_of, status FROM pipeline_run ORDER BY as_of")
                            ).all()
        assert [r[1] for r in runs] == ["succeeded", "succeeded_with_issues"]
        assert conn.execute(sa.text("SELECT COUNT(*) FROM batch")).scalar_one() == 2
    keys = {getattr(a, "key", None) for a in _artifacts(f"qa-batch-{AS_OF.isoformat()}%")}
    assert {f"qa-batch-{AS_OF}-extracts", f"qa-batch-{AS_OF}-rules",
            f"qa-batch-{AS_OF}-summary", f"qa-batch-{AS_OF}-report",
            f"qa-batch-{AS_OF}-open-issues", f"qa-batch-{AS_OF}-html"} <= keys
    assert all(Path(str(r["report"])).is_file() for r in results)

    # nothing new: a second run processes nothing
    assert nightly(str(landing), db_url, str(tmp_path / "work"))["batches"] == []


def test_flow_fails_when_publish_fails(prefect_harness: None, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.nightly as nightly_mod

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(pipeline, "publish_or_hold", broken)
    folder = write_batch(tmp_path / "landing", base())
    db_url = f"sqlite:///{tmp_path / 'qa.db'}"
    state = nightly_mod.nightly(str(folder), db_url, str(tmp_path / "work"),
                                return_state=True)
    assert state.is_failed()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        status, message = conn.execute(sa.text("SELECT status, message FROM pipeline_run")).one()
    assert status == "failed" and "database gone" in message


@pytest.mark.aftercare
def test_artifacts_carry_no_identifying_values(prefect_harness: None, tmp_path: Path) -> None:
    """Planted identifying values reach no Prefect artifact (nor the report it links)."""
    from flows.nightly import nightly

    data = base()
    for r in data["persons"]:
        r["Surname"] = "Zyxplantedsurname"
    data["referrals"][1]["referral_id"] = "943 476 5919"
    data["teams"][0]["team_name"] = "Team 401-023-2137"  # a text column: teams rejected
    for r in data["cin_reviews"]:
        r["ref 401 023 2137"] = ""  # an unknown header naming a number: a warning, masked
    as_of = AS_OF - timedelta(days=30)
    folder = write_batch(tmp_path / "landing", data, as_of=as_of)
    (folder / "9434765919.csv").write_text("a\n1\n", encoding="utf-8")  # a stray file
    db_url = f"sqlite:///{tmp_path / 'qa.db'}"
    [result] = nightly(str(folder), db_url, str(tmp_path / "work"))["batches"]
    artifacts = _artifacts(f"qa-batch-{as_of.isoformat()}%")
    assert len(artifacts) >= 5
    text = "\n".join(str(getattr(a, "data", "")) + str(getattr(a, "description", ""))
                     for a in artifacts)
    text += Path(str(result["report"])).read_text(encoding="utf-8")
    assert "rejected" in text  # the persons file, reported without its values
    for needle in ("Zyxplantedsurname", "943 476 5919", "9434765919", "401-023-2137",
                   "401 023 2137", "4010232137"):
        assert needle not in text
