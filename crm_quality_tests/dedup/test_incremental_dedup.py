"""Deduplicating only what changed: fake_1000 as the staged contacts of a real warehouse, run
night after night. A night compares only the pairs of new and changed records, keeps the other
comparisons, scores with the deployment's model (fitted again when due) and gives the pairs,
scores and clusters that a full run on the same records gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from crm_quality.dedup.run import deduplicate_table
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.dedup.test_dedup import DNB, SPLINK_FAKE


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA staged; CREATE SCHEMA dedup")
    con.execute("CREATE TABLE staged.accounts (account_id VARCHAR, name_key VARCHAR)")
    con.execute("""CREATE TABLE staged.contacts AS SELECT unique_id AS contact_id, first_name, surname AS last_name,
                   dob AS birth_date, city, email, CAST(NULL AS VARCHAR) AS account_id
                   FROM read_csv(?, all_varchar = true)""", [str(SPLINK_FAKE)])
    return con


def _groups(con: duckdb.DuckDBPyConnection) -> set[frozenset]:
    return {frozenset(members) for (members,) in con.execute(
        "SELECT list(record_id) FROM dedup.contacts_clusters GROUP BY cluster_id HAVING count(*) > 1").fetchall()}


def _pairs(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    return set(con.execute("SELECT id_l, id_r FROM dedup.contacts_pairs").fetchall())


def _scored(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every pair with its levels, weights and probability (to 9 places), order-free."""
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in con.execute(
        "SELECT * FROM dedup.contacts_pairs").fetchall())


@pytest.mark.parametrize("refit_every", [7, 1])
def test_a_night_compares_only_the_changed_records_and_equals_a_full_run(tmp_path, sample, refit_every):
    """By default the model fitted on the first night scores the next ones, and a full rebuild
    too; fitted every night, a night's model is a full rebuild's fit."""
    settings = make_settings(tmp_path, Path(sample.out), dedup_refit_every=refit_every)
    con = _warehouse(tmp_path / "night.duckdb")
    first = deduplicate_table(con, settings, "contacts", "run-1")
    assert first.touched is None and first.refitted, "the first run compares every pair and fits the model"
    [(fitted_by, runs)] = con.execute("SELECT run_id, runs_since_fit FROM dedup.contacts_model").fetchall()
    assert (fitted_by, runs) == ("run-1", 0)
    scored = _scored(con)

    same = deduplicate_table(con, settings, "contacts", "run-2")
    assert same.touched == 0 and same.kept_pairs == first.candidate_pairs
    assert same.model == first.model and _scored(con) == scored, "kept comparisons, the same model"

    [(changed, copied, gone)] = con.execute(
        "SELECT min(contact_id), max(contact_id), any_value(contact_id) FILTER (contact_id LIKE '5%') "
        "FROM staged.contacts").fetchall()
    con.execute("UPDATE staged.contacts SET first_name = 'Wilhelmina', last_name = 'Quartermaine', "
                "email = 'wq@example.net', birth_date = '1931-07-14' WHERE contact_id = ?", [changed])
    con.execute("INSERT INTO staged.contacts SELECT * REPLACE ('new-1' AS contact_id) FROM staged.contacts "
                "WHERE contact_id = ?", [copied])
    con.execute("INSERT INTO staged.contacts SELECT * REPLACE ('new-2' AS contact_id, 'Zebedee' AS first_name) "
                "FROM staged.contacts WHERE contact_id = ?", [changed])
    con.execute("DELETE FROM staged.contacts WHERE contact_id = ?", [gone])
    night = deduplicate_table(con, settings, "contacts", "run-3")
    assert night.touched == 3 and 0 < night.kept_pairs < night.candidate_pairs
    assert night.refitted == (refit_every == 1) and (night.model == first.model) == (refit_every > 1)
    if refit_every > 1:
        moved = set(_scored(con)) - set(scored)
        assert moved and all({left, right} & {changed, "new-1", "new-2"} for left, right, *_ in moved), \
            "between fits a pair's score moves only with its own records, not with how common their values became"
        assert len(moved) <= night.rows_rewritten < 0.1 * night.candidate_pairs, "only the rows that moved are written"
    else:
        assert night.rows_rewritten is None, "a new fit moves every score: the tables are written whole"
    clusters = dict(con.execute("SELECT record_id, cluster_id FROM dedup.contacts_clusters").fetchall())
    assert clusters["new-1"] == clusters[copied], "the new duplicate joins its record"
    assert gone not in clusters and all(gone not in pair for pair in _pairs(con))

    con.execute("CHECKPOINT")
    shutil.copyfile(tmp_path / "night.duckdb", tmp_path / "full.duckdb")
    full = duckdb.connect(str(tmp_path / "full.duckdb"))
    rebuilt = deduplicate_table(full, settings.replace(full_rebuild=True), "contacts", "run-full")
    assert rebuilt.touched is None and rebuilt.refitted == night.refitted and rebuilt.model == night.model
    assert _scored(full) == _scored(con), "the same pairs, levels, term frequencies and scores as a full run"
    assert _groups(full) == _groups(con), "the same clusters as a full run"


def test_the_model_is_fitted_again_on_schedule_and_when_the_stewards_speak(tmp_path, sample):
    settings = make_settings(tmp_path, Path(sample.out), dedup_refit_every=2)
    con = _warehouse(tmp_path / "w.duckdb")
    runs = [deduplicate_table(con, settings, "contacts", f"run-{n}") for n in range(4)]
    assert [r.refitted for r in runs] == [True, False, True, False], "every second run fits"
    assert [r.touched for r in runs] == [None, 0, 0, 0] and runs[1].model == runs[0].model
    steward = settings.dedup.steward
    steward.mkdir(parents=True, exist_ok=True)
    (steward / "never_merge.csv").write_text("table,id_a,id_b\ncontacts,0,1\n")
    assert deduplicate_table(con, settings, "contacts", "run-5").refitted

    con.execute("UPDATE staged.contacts SET email = email || '.org' WHERE contact_id < '3'")
    assert deduplicate_table(con, settings, "contacts", "run-6").refitted, "more than 5% changed: a refit"


def test_a_full_rebuild_keeps_the_model_unless_a_fit_is_asked_for_or_the_settings_change(tmp_path, sample):
    settings = make_settings(tmp_path, Path(sample.out))
    con = _warehouse(tmp_path / "w.duckdb")
    first = deduplicate_table(con, settings, "contacts", "run-1")
    full = deduplicate_table(con, settings.replace(full_rebuild=True), "contacts", "run-2")
    assert not full.refitted and full.model == first.model and full.touched is None, \
        "every pair compared again, scored by the deployment's model"
    assert deduplicate_table(con, settings.replace(dedup_refit=True), "contacts", "run-3").refitted
    assert not deduplicate_table(con, settings, "contacts", "run-4").refitted
    assert deduplicate_table(con, settings.replace(dedup_review_low=0.3), "contacts", "run-5").refitted, \
        "a model is fitted under the settings and code in force"
    assert con.execute("SELECT run_id, runs_since_fit FROM dedup.contacts_model").fetchall() == [("run-5", 0)]


def test_a_block_that_grows_past_its_cap_loses_its_kept_pairs_as_in_a_full_run(tmp_path, sample):
    """With a cap of 4 records a block, new copies of a record push its blocks past the cap: a
    full run compares none of their pairs, so a night must drop the ones it kept."""
    settings = make_settings(tmp_path, Path(sample.out), dedup_block_cap=4)
    con = _warehouse(tmp_path / "night.duckdb")
    deduplicate_table(con, settings, "contacts", "run-1")
    [(copied,)] = con.execute("""SELECT id_l FROM dedup.contacts_pairs GROUP BY id_l ORDER BY count(*) DESC, id_l
                                 LIMIT 1""").fetchall()
    for n in range(3):
        con.execute(f"INSERT INTO staged.contacts SELECT * REPLACE ('copy-{n}' AS contact_id) FROM staged.contacts "
                    "WHERE contact_id = ?", [copied])
    night = deduplicate_table(con, settings, "contacts", "run-2")
    assert night.touched == 3
    con.execute("CHECKPOINT")
    shutil.copyfile(tmp_path / "night.duckdb", tmp_path / "full.duckdb")
    full = duckdb.connect(str(tmp_path / "full.duckdb"))
    deduplicate_table(full, settings.replace(full_rebuild=True), "contacts", "run-full")
    assert _pairs(full) == _pairs(con) and not any(copied in pair for pair in _pairs(con))


def test_company_name_keys_are_made_once_per_name_and_kept_for_the_next_run(tmp_path, sample):
    settings = make_settings(tmp_path, Path(sample.out))
    con = _warehouse(tmp_path / "night.duckdb")
    con.execute("""INSERT INTO staged.accounts SELECT column0, company_name
                   FROM read_csv(?, all_varchar = true, header = true)""", [str(DNB / "dnb_test_names.csv")])
    con.execute("ALTER TABLE staged.accounts RENAME COLUMN name_key TO name")
    [(names,)] = con.execute("SELECT count(DISTINCT name) FROM staged.accounts").fetchall()
    first = deduplicate_table(con, settings, "accounts", "run-1")
    assert (first.keys_made, first.keys_cached) == (names, 0)

    con.execute("INSERT INTO staged.accounts VALUES ('new-1', 'QUITZON GROUP'), ('new-2', 'Schumm PLC')")
    night = deduplicate_table(con, settings, "accounts", "run-2")
    assert (night.keys_made, night.keys_cached) == (1, 1), \
        "only new records are prepared; the key of a name seen before comes from the cache"
    assert night.touched == 2 and not night.refitted, \
        "a name word weighs what the fit counted: two more names leave the others' weights as they were"
    [(kept, records)] = con.execute("SELECT (SELECT count(*) FROM cache.dedup_accounts__prepared_0), "
                                    "(SELECT count(*) FROM staged.accounts)").fetchall()
    assert kept == records, "the kept comparison records are this run's"
    similarity = con.execute("""SELECT name_similarity FROM dedup.accounts_pairs
                                WHERE id_l = '3' AND id_r = 'new-1'""").fetchall()
    assert similarity == [(1.0,)], "the new name's key, made this run, equals the cached key of 'Quitzon Group'"

    scored = sorted(con.execute("SELECT * FROM dedup.accounts_pairs").fetchall(), key=repr)
    rebuilt = deduplicate_table(con, make_settings(tmp_path, Path(sample.out), full_rebuild=True), "accounts", "run-3")
    assert (rebuilt.keys_made, rebuilt.keys_cached) == (names + 1, 0), "a full rebuild makes every key again"
    assert sorted(con.execute("SELECT * FROM dedup.accounts_pairs").fetchall(), key=repr) == scored, \
        "and scores every pair as the night did"
