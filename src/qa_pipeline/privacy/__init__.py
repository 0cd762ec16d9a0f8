"""Identifying data: the guard that refuses it on the way in, the redaction every output passes."""
