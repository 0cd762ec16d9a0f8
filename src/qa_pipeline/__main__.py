"""`python -m qa_pipeline ...` is `qa-pipeline ...`."""

from qa_pipeline.cli.main import main

raise SystemExit(main())
