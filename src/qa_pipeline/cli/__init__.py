"""The `qa-pipeline` command line."""
