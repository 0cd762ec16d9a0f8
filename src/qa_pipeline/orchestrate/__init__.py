"""Prefect: the nightly flow, its schedule and deployment."""
