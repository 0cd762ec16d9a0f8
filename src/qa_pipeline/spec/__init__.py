"""The declarations everything else is generated from: extract contracts, rule kinds,
published tables."""
