"""The user access review against the generator's truth, through a real materialization."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from dagster import AssetKey, materialize

from crm_quality.definitions import build_definitions
from crm_quality_tests.conftest import AS_OF, make_settings

TRUTH_KINDS = {"inactive_owner": "inactive_owner", "stale_login": "stale_login", "no_role": "missing_role"}


def test_the_review_finds_exactly_the_users_the_truth_names(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir, as_of=AS_OF.isoformat())
    defs = build_definitions(settings)
    selection = [a for a in defs.assets if any(k.path[0] in ("raw", "staged") or k == AssetKey(["quality", "access_review"])
                                               for k in a.keys)]
    result = materialize(selection, resources=defs.resources)
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    found = con.execute("SELECT finding, user_id, owned_records, detail FROM quality.access_review WHERE run_id = ?",
                        [result.run_id]).df()
    defects = pd.read_csv(Path(sample_dir) / "_truth" / "defects.csv", dtype=str)
    for finding, kind in TRUTH_KINDS.items():
        expected = set(defects.loc[(defects["table"] == "users") & (defects["kind"] == kind), "record_id"])
        assert set(found.loc[found["finding"] == finding, "user_id"]) == expected, finding
        assert expected
    admins = found[found["finding"] == "privileged"]
    assert set(admins["user_id"]) >= {"USR-0000001", "USR-0000002"}  # the generator's administrators
    owners = found[found["finding"] == "inactive_owner"]
    assert (owners["owned_records"] > 0).all() and owners["detail"].str.contains("still owns").all()
    [materialization] = [m for m in result.get_asset_materialization_events()
                         if m.asset_key == AssetKey(["quality", "access_review"])]
    metadata = materialization.materialization.metadata
    assert metadata["findings_inactive_owner"].value == len(owners)
