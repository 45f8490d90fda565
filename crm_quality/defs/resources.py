"""Resources: the settings every asset reads, and the DuckDB warehouse they write."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from dagster import ConfigurableResource, DagsterRun, InitResourceContext
from dagster_duckdb import DuckDBResource

from crm_quality.settings import PLACES, Settings, as_text, is_secret, load_settings

WAREHOUSE_POOL = "warehouse"
"""DuckDB allows one writing process: every asset that writes the warehouse joins this pool,
whose limit is 1 in the project's dagster.yaml, so parallel work queues instead of failing."""


class SettingsResource(ConfigurableResource):
    """The crm-quality settings for a run, shown (and editable) in the launchpad; secrets are left
    out, since run configuration is stored and shown, and no asset needs them."""

    values: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> SettingsResource:
        return cls(
            values={key: as_text(key, settings.get(key)) for key in PLACES
                    if not is_secret(key) and settings.get(key) is not None}
        )

    @classmethod
    def of_run(cls, run: DagsterRun, settings: Settings) -> Settings:
        """The settings a run ran with: its own run configuration (as launched from the UI, a
        sensor or the schedule), else ``settings``, those the definitions were built with."""
        values = run.run_config.get("resources", {}).get("settings", {}).get("config", {}).get("values")
        return cls(values=values).get() if values else settings

    def get(self) -> Settings:
        """The run's settings, with the secrets read where they live: the environment or file."""
        own = load_settings()
        secrets = {key: own.get(key) for key in PLACES if is_secret(key)}
        return load_settings(overrides={**self.values, **secrets}, config_file=None, env={})


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse. Its folder is created on first use (DuckDB will not, and
    DuckDBResource retries a failed open for minutes), its progress bar is off, and the
    connection is closed even when the asset fails. The run is tagged with the process writing
    it, so that a killed run can be found and its pool slot freed (defs/lifecycle.py)."""

    def setup_for_execution(self, context: InitResourceContext) -> None:
        from crm_quality.defs.lifecycle import worker_tags  # here: the lifecycle reads the assets' keys

        if context.instance is not None and context.run is not None:
            context.instance.add_run_tags(context.run.run_id, worker_tags())

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as con:
            try:
                con.execute("SET enable_progress_bar = false")  # it would print into the run's output
                yield con
            finally:
                con.close()


def resources_for(settings: Settings) -> dict[str, ConfigurableResource]:
    return {
        "settings": SettingsResource.from_settings(settings),
        "warehouse": WarehouseResource(
            database=str(settings.warehouse.path),
            connection_config={"memory_limit": limit} if (limit := settings.warehouse.memory_limit) else {},
        ),
    }
