"""The generator never writes a local time that UK clocks skip (01:00-02:00 on the last
Sunday of March): the validator would rightly report it, and it is not a planted defect."""

from __future__ import annotations

import numpy as np

from qa_pipeline.sample.arrays import past_spring_gap

H = 3600


def test_times_in_the_skipped_hour_move_an_hour_on() -> None:
    days = np.array(["2026-03-29", "2026-03-29", "2026-03-29", "2026-03-29", "2025-03-30",
                     "2026-03-28", "2026-03-22", "2026-10-25", "2024-03-31"],
                    dtype="datetime64[D]")
    seconds = np.array([H + 30 * 60, H, 2 * H, H - 1, H + 59 * 60 + 59, H + 1800, H + 1800,
                        H + 1800, H + 5])
    # 29 Mar 2026, 30 Mar 2025 and 31 Mar 2024 are the last Sundays of March; 28 Mar 2026 a
    # Saturday, 22 Mar 2026 not the last Sunday, 25 Oct 2026 the autumn change (no gap).
    assert past_spring_gap(days, seconds).tolist() == [
        2 * H + 30 * 60, 2 * H, 2 * H, H - 1, 2 * H + 59 * 60 + 59, H + 1800, H + 1800,
        H + 1800, 2 * H + 5]
