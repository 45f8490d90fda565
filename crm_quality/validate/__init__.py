"""Validation of the staged tables: declared checks, run by Great Expectations or DuckDB, with
their results and scores kept as history."""
