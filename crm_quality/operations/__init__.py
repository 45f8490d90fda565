"""Keeping the warehouse safe and its keepers informed: backups, the runs log, upkeep, alerts
and the watched export folder. Plain functions over a DuckDB connection and settings."""
