"""Raw -> staged: reading the delivered files, validating them, staging one batch (no database)."""
