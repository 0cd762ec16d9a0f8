"""Intermediate: the calendar, case-level facts and the indicators derived from them."""
