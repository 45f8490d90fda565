"""Resources: the settings every asset reads, and the DuckDB warehouse they write."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import duckdb
import pydantic
from dagster import Config, ConfigurableResource, DagsterRun, InitResourceContext
from dagster_duckdb import DuckDBResource

from crm_quality.settings import BY_PLACE, GROUPS, PLACES, Place, Settings, as_given, is_secret, load_settings

WAREHOUSE_POOL = "warehouse"
"""DuckDB allows one writing process: every asset that writes the warehouse joins this pool,
whose limit is 1 in the project's dagster.yaml, so parallel work queues instead of failing."""


CONFIG_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "Path": Optional[str],
                                "tuple": list[str], "dict": dict[str, Any]}
"""The launchpad's type for each type of setting; a path left empty (None) lies in the home."""


class SettingsResource(ConfigurableResource):
    """The crm-quality settings for a run, shown (and editable) in the launchpad: one section per
    group of settings, each setting typed, described, and defaulting to the deployment's value.
    Secrets are left out, since run configuration is stored and shown, and no asset needs them."""

    home: str = "data"

    @classmethod
    def from_settings(cls, settings: Settings) -> SettingsResource:
        """The resource for these settings: its defaults are their values."""
        given = as_given(settings)
        with warnings.catch_warnings():
            # The group `validate` shadows pydantic's deprecated BaseModel.validate, which nothing calls.
            warnings.filterwarnings("ignore", message='Field name "validate"')
            typed = pydantic.create_model(
                "SettingsResource", __base__=cls, __doc__=cls.__doc__,
                home=(str, pydantic.Field(str(settings.home), description=PLACES["home"].doc)),
                **{group: (model, pydantic.Field(default_factory=model, description=f"The {group} settings."))
                   for group in GROUPS if (model := _group_config(group, given))})
        return typed()

    @staticmethod
    def run_config(settings: Settings) -> dict[str, Any]:
        """Run configuration that runs a job with these settings (the schedules and sensors)."""
        given = as_given(settings)
        config: dict[str, Any] = {"home": str(settings.home)}
        for place in _shown():
            config.setdefault(place.group, {})[place.name] = _config_value(given.get(place.key))
        return {"resources": {"settings": {"config": config}}}

    @classmethod
    def of_run(cls, run: DagsterRun, settings: Settings) -> Settings:
        """The settings a run ran with: its own run configuration (as launched from the UI, a
        sensor or the schedule) over ``settings``, those the definitions were built with."""
        config = run.run_config.get("resources", {}).get("settings", {}).get("config")
        return settings.replace(**_by_key(config)) if config else settings

    def get(self) -> Settings:
        """The run's settings, with the secrets read where they live: the environment or file."""
        own = load_settings()
        secrets = {key: own.get(key) for key in PLACES if is_secret(key)}
        config = {"home": self.home, **{group: dict(getattr(self, group)) for group in GROUPS if hasattr(self, group)}}
        return load_settings(overrides={**_by_key(config), **secrets}, config_file=None, env={})


def _shown() -> list[Place]:
    return [place for place in PLACES.values() if place.group and not place.secret]


def _config_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


def _group_config(group: str, given: dict[str, Any]) -> type[Config] | None:
    """One group's section of the launchpad: each setting typed, with its docstring and key."""
    fields = {}
    for place in _shown():
        if place.group != group:
            continue
        default = _config_value(given.get(place.key))
        where = f"; empty: {place.in_home} in the home" if place.in_home else ""
        fields[place.name] = (CONFIG_TYPES[place.type], pydantic.Field(
            default, description=f"{place.doc} (setting {place.key}{where})".lstrip()))
    return pydantic.create_model(f"{group.title()}Settings", __base__=Config, **fields) if fields else None


def _by_key(config: Mapping[str, Any]) -> dict[str, Any]:
    """Run configuration ({group: {name: value}}) as settings by key; an empty path is left out."""
    values = {"home": config["home"]} if config.get("home") else {}
    for group, section in config.items():
        for name, value in (section.items() if group in GROUPS else ()):
            if value is not None:
                values[BY_PLACE[(group, name)].key] = value
    return values


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
