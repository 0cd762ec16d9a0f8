"""The nightly job as a Prefect flow: the entry point of the deployment (`prefect.yaml`,
`flows/nightly.py:nightly`) and of a one-off run. The flow lives in
`qa_pipeline.orchestrate.flow`; its steps are the job's (`qa_pipeline.ops.job`).

Run once:  python flows/nightly.py LANDING_OR_BATCH_PATH [--db URL] [--config FILE]
Serve:     python flows/nightly.py --serve [LANDING]
"""

from __future__ import annotations

import sys

from qa_pipeline.orchestrate.flow import main, nightly

__all__ = ["main", "nightly"]

if __name__ == "__main__":
    sys.exit(main())
