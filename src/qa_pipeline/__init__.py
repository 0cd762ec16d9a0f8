"""Nightly data-quality and indicator pipeline for Paris children's services extracts."""

__version__ = "0.1.0"
