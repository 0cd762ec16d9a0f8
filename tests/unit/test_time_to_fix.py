"""`officers.episodes.time_to_fix`: episodes grouped per team, the median days to fix and the
episodes still open — worked by hand."""

from __future__ import annotations

from qa_pipeline.officers.episodes import TeamTimeToFix, time_to_fix


def test_median_per_team_odd_even_and_open() -> None:
    got = time_to_fix([
        ("T2", 16), ("T1", 11), (None, 5), ("T1", 2), ("T2", None), ("T1", 7),
        ("T2", 7), ("", 11), ("T1", None), ("T1", None),
    ])
    assert got == [
        # 2, 7, 11: the middle one
        TeamTimeToFix(team_id="T1", resolved=3, median_days=7.0, still_open=2),
        # 7, 16: the mean of the two
        TeamTimeToFix(team_id="T2", resolved=2, median_days=11.5, still_open=1),
        # an empty team id is no team; 5, 11 -> 8; last
        TeamTimeToFix(team_id=None, resolved=2, median_days=8.0, still_open=0),
    ]


def test_four_values_and_a_team_with_only_open_episodes() -> None:
    got = time_to_fix([("T9", 30), ("T9", 1), ("T9", 4), ("T9", 10), ("T3", None)])
    assert got == [
        TeamTimeToFix(team_id="T3", resolved=0, median_days=None, still_open=1),
        # 1, 4, 10, 30 -> (4 + 10) / 2
        TeamTimeToFix(team_id="T9", resolved=4, median_days=7.0, still_open=0),
    ]
    assert time_to_fix([]) == []
