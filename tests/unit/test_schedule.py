"""The nightly schedule: 02:00 London time all year, computed by Prefect's own scheduler code,
and the same in prefect.yaml, the multi-authority example and `serve`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from qa_pipeline.orchestrate import scheduling
from qa_pipeline.orchestrate.scheduling import CRON, TIMEZONE, next_runs

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")


def _nights(first: date, n: int, cron: str = CRON) -> list[datetime]:
    return next_runs(n, after=datetime(first.year, first.month, first.day, tzinfo=LONDON),
                     cron=cron)


def _utc(runs: list[datetime]) -> list[tuple[str, str]]:
    return [(f"{r:%Y-%m-%d %H:%M %Z}", f"{r.astimezone(UTC):%H:%M}") for r in runs]


@pytest.mark.parametrize("year, spring, autumn", [
    (2026, date(2026, 3, 29), date(2026, 10, 25)),
    (2027, date(2027, 3, 28), date(2027, 10, 31)),
])
def test_two_in_the_morning_london_time_across_both_clock_changes(
        year: int, spring: date, autumn: date) -> None:
    for sunday, before, after in ((spring, "02:00", "01:00"), (autumn, "01:00", "02:00")):
        assert sunday.weekday() == 6 and (sunday + timedelta(days=7)).month != sunday.month
        runs = _nights(sunday - timedelta(days=2), 5)
        # one run per night, every night, at 02:00 on the London clock ...
        assert [r.date() for r in runs] == [sunday + timedelta(days=d) for d in range(-2, 3)]
        assert {(r.hour, r.minute) for r in runs} == {(2, 0)}
        # ... which is 02:00 UTC in winter (GMT) and 01:00 UTC in summer (BST)
        assert [f"{r.astimezone(UTC):%H:%M}" for r in runs] == [before, before, after, after,
                                                                  after]


def test_spring_and_autumn_change_over_nights_exactly() -> None:
    assert _utc(_nights(date(2026, 3, 28), 3)) == [
        ("2026-03-28 02:00 GMT", "02:00"),
        ("2026-03-29 02:00 BST", "01:00"),  # the clocks went 01:00 GMT -> 02:00 BST
        ("2026-03-30 02:00 BST", "01:00"),
    ]
    assert _utc(_nights(date(2026, 10, 24), 3)) == [
        ("2026-10-24 02:00 BST", "01:00"),
        ("2026-10-25 02:00 GMT", "02:00"),  # 02:00 BST -> 01:00 GMT: 02:00 comes once
        ("2026-10-26 02:00 GMT", "02:00"),
    ]


def test_a_time_inside_the_changing_hour_is_what_02_00_avoids() -> None:
    """What Prefect's cron schedule does with a time that the clock change skips or repeats:
    01:30 is moved to 02:30 BST on the spring Sunday (the hour 01:00-02:00 does not exist) and
    runs only once, at the first (BST) 01:30, on the autumn Sunday."""
    spring = _nights(date(2026, 3, 28), 3, cron="30 1 * * *")
    assert _utc(spring) == [("2026-03-28 01:30 GMT", "01:30"),
                            ("2026-03-29 02:30 BST", "01:30"),
                            ("2026-03-30 01:30 BST", "00:30")]
    autumn = _nights(date(2026, 10, 24), 3, cron="30 1 * * *")
    assert _utc(autumn) == [("2026-10-24 01:30 BST", "00:30"),
                            ("2026-10-25 01:30 BST", "00:30"),
                            ("2026-10-26 01:30 GMT", "01:30")]


def test_a_run_due_exactly_now_counts_and_the_next_is_tomorrow() -> None:
    at_two = datetime(2026, 11, 25, 2, 0, tzinfo=LONDON)
    assert next_runs(2, after=at_two) == [at_two, at_two + timedelta(days=1)]
    assert next_runs(1, after=at_two + timedelta(seconds=1)) == [at_two + timedelta(days=1)]


def _deployments(path: Path) -> list[dict[str, object]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["pull"] is None and data["build"] is None and data["push"] is None
    return list(data["deployments"])


@pytest.mark.parametrize("prefect_file", ["prefect.yaml", "deploy/prefect-authorities.yaml"])
def test_prefect_files_use_the_one_schedule_pool_and_flow(prefect_file: str) -> None:
    deployments = _deployments(ROOT / prefect_file)
    assert deployments
    for d in deployments:
        assert d["entrypoint"] == scheduling.ENTRYPOINT
        assert d["schedules"] == [{"cron": CRON, "timezone": TIMEZONE, "active": True}]
        pool = d["work_pool"]
        assert isinstance(pool, dict) and pool["name"] == scheduling.WORK_POOL
        env = pool["job_variables"]["env"]
        assert env["PREFECT_LOGGING_EXTRA_LOGGERS"] == scheduling.EXTRA_LOGGERS
        assert "QA_PIPELINE_CONFIG" in env
        assert set(d["parameters"]) == {"path"}  # everything else comes from the settings
        assert "password" not in yaml.safe_dump(d).lower()


def test_the_work_pool_deployment_takes_its_parameters_from_the_settings() -> None:
    (nightly,) = _deployments(ROOT / "prefect.yaml")
    assert nightly["name"] == scheduling.DEPLOYMENT_NAME
    assert nightly["parameters"] == {"path": "{{ $QA_PIPELINE_LANDING }}"}
    assert nightly["work_pool"]["job_variables"]["env"]["QA_PIPELINE_CONFIG"] == (
        "{{ $QA_PIPELINE_CONFIG }}")
    authorities = _deployments(ROOT / "deploy/prefect-authorities.yaml")
    names = [d["name"] for d in authorities]
    assert len(set(names)) == len(names) >= 2
    configs = [d["work_pool"]["job_variables"]["env"]["QA_PIPELINE_CONFIG"] for d in authorities]
    landings = [d["parameters"]["path"] for d in authorities]
    assert len(set(configs)) == len(configs) and len(set(landings)) == len(landings)


def test_the_entrypoint_is_the_qa_nightly_flow() -> None:
    flow = scheduling.load_nightly_flow(ROOT)
    assert flow.name == scheduling.FLOW_NAME
    hooks = {h.__name__ for h in flow.on_running_hooks}
    assert {"load_db_password", "log_library_progress"} <= hooks
    assert scheduling.find_project_dir(ROOT / "docs") == ROOT


def test_serve_uses_the_same_schedule() -> None:
    schedule = scheduling.nightly_schedule()
    assert (schedule.cron, schedule.timezone) == (CRON, TIMEZONE)


def test_schedule_command_prints_london_and_utc(capsys: pytest.CaptureFixture[str]) -> None:
    from qa_pipeline.cli.main import main

    assert main(["schedule", "--next", "3", "--after", "2027-03-27"]) == 0
    out = capsys.readouterr().out
    assert "'0 2 * * *' in Europe/London" in out
    assert "Sat 2027-03-27 02:00 GMT = 02:00 UTC" in out
    assert "Sun 2027-03-28 02:00 BST = 01:00 UTC" in out
    assert "Mon 2027-03-29 02:00 BST = 01:00 UTC" in out
