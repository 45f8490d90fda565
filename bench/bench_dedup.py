"""Find duplicate contacts among N generated contacts (100k and 1M by default), three ways.

All three read the same Parquet file: the staged contacts (standardized by our pipeline, so
every tool sees the same clean values) with their company name, in canonical column names.

- ours: the `crm-quality dedup` command (the code path of the pipeline too);
- plain recordlinkage: Block index on a few keys, Compare.string (Jaro-Winkler) and exact
  comparisons, ECM, connected components;
- Splink 5 (optional: `pip install -e '.[bench]'`): the DuckDB backend, the comparisons and
  blocking rules its documentation recommends for people, u by random sampling, m by EM on at
  most 2M pairs per training rule, clusters at a 0.9 match probability.

Each writes record_id -> cluster_id; quality (pairwise and cluster F1 against `_truth/`) is
scored afterwards, untimed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from measure import measure, report

from crm_quality.dedup.evaluate import Evaluation, evaluate

SIZES = [int(n) for n in os.environ.get("BENCH_DEDUP_CONTACTS", "100000,1000000").split(",")]
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
WORK = Path(os.environ.get("BENCH_WORK", "bench/results/work"))
TARGET_SECONDS, TARGET_MB = 30, 2560
BLOCKS = (("email",), ("phone",), ("last_name", "birth_date"), ("first_name", "birth_date"),
          ("last_name", "postal_code"))
"""The baselines' blocking keys: first and last name alone would make tens of millions of
pairs at 1M contacts (the generator's names repeat), more than either baseline can score."""
COLUMNS = ("first_name", "last_name", "email", "phone", "birth_date", "street", "city", "postal_code",
           "country", "company_name")


def prepare(size: int) -> str:
    """Generate, extract and stage contacts and accounts; write the shared input file."""
    export, warehouse = WORK / f"export-{size}", WORK / f"dedup-{size}.duckdb"
    data = WORK / f"dedup-input-{size}.parquet"
    return f"""
from datetime import date, datetime, timezone
from pathlib import Path
from crm_quality.sample import generate
from crm_quality.settings import load_settings
from crm_quality.sources.files import extract_table
from crm_quality.standardize.stage import stage_table
from crm_quality.warehouse import connect
s = load_settings(overrides={{"source": {str(export)!r}, "warehouse": {str(warehouse)!r},
                             "as_of": "2026-11-01"}}, config_file=None, env={{}})
if __name__ == "__main__" and not Path({str(data)!r}).exists():
    if not (Path({str(export)!r}) / "_truth" / "summary.json").exists():
        generate({str(export)!r}, contacts={size}, seed=1, as_of=date(2026, 11, 1))
    with connect(s.warehouse.path) as con:
        for t in ("accounts", "contacts"):
            extract_table(con, s, t, datetime.now(timezone.utc))
            stage_table(con, s, t, "bench")
        con.execute(\"\"\"COPY (SELECT c.contact_id, {', '.join('c.' + c for c in COLUMNS[:-1])},
                                a.name AS company_name
                         FROM staged.contacts c LEFT JOIN staged.accounts a USING (account_id)
                         ORDER BY c.contact_id) TO '{data}.part' (FORMAT parquet)\"\"\")
    Path({str(data) + '.part'!r}).replace({str(data)!r})
    Path({str(warehouse)!r}).unlink()
"""


def ours(size: int) -> str:
    data, out = WORK / f"dedup-input-{size}.parquet", WORK / f"clusters-ours-{size}.csv"
    return f"""
import contextlib, io, json, sys
from crm_quality.cli import main
said = io.StringIO()
with contextlib.redirect_stdout(said):
    status = main(["dedup", {str(data)!r}, "--entity", "contact", "--id-column", "contact_id", "--out", {str(out)!r}])
print(json.dumps({{"said": said.getvalue().splitlines()[0].split(": ", 1)[-1]}}))
sys.exit(status)
"""


def recordlinkage_baseline(size: int) -> str:
    data, out = WORK / f"dedup-input-{size}.parquet", WORK / f"clusters-recordlinkage-{size}.parquet"
    return f"""
import json, warnings
import numpy as np, pandas as pd, recordlinkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
BLOCKS = {BLOCKS!r}
df = pd.read_parquet({str(data)!r}).set_index("contact_id")
indexer = recordlinkage.Index()
for key in BLOCKS:
    indexer.block(list(key))
pairs = indexer.index(df)
compare = recordlinkage.Compare()
for column in ("first_name", "last_name", "street", "company_name"):
    compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
for column in ("email", "phone", "birth_date", "postal_code", "city"):
    compare.exact(column, column, label=column)
features = compare.compute(pairs, df)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
ids = pd.Index(df.index)
left, right = ids.get_indexer(matches.get_level_values(0)), ids.get_indexer(matches.get_level_values(1))
graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(ids), len(ids)))
_, labels = connected_components(graph, directed=False)
pd.DataFrame({{"record_id": ids, "cluster_id": labels}}).to_parquet({str(out)!r})
print(json.dumps({{"candidate_pairs": len(pairs)}}))
"""


def splink(size: int) -> str:
    data, out = WORK / f"dedup-input-{size}.parquet", WORK / f"clusters-splink-{size}.parquet"
    return f"""
import json, logging
import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
con = duckdb.connect()
con.execute("CREATE TABLE contacts AS SELECT contact_id AS unique_id, * EXCLUDE (contact_id) FROM read_parquet('{data}')")
db_api = DuckDBAPI(con)
settings = SettingsCreator(
    link_type="dedupe_only",
    comparisons=[
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.EmailComparison("email"),
        cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("birth_date", input_is_string=False),
        cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
        cl.ExactMatch("postal_code"),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("company_name", [0.9]),
    ],
    blocking_rules_to_generate_predictions=[block_on(*key) for key in {BLOCKS!r}],
)
linker = Linker(db_api.register("contacts"), settings, log_level=logging.ERROR)
linker.training.estimate_probability_two_random_records_match([block_on("email"), block_on("phone")], recall=0.7)
linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
for rule in (block_on("first_name", "last_name"), block_on("birth_date"), block_on("email")):
    linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=2e6)
predictions = linker.inference.predict(threshold_match_probability=0.5)
clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
frame = clusters.as_duckdbpyrelation().select("unique_id AS record_id, cluster_id").df()
frame.to_parquet({str(out)!r})
print(json.dumps({{"candidate_pairs": predictions.as_duckdbpyrelation().count("*").fetchall()[0][0]}}))
"""


def _has_splink() -> bool:
    try:
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


def quality(size: int, tool: str) -> Evaluation:
    """A tool's clusters against the generator's truth."""
    truth = pd.read_csv(WORK / f"export-{size}" / "_truth" / "contacts.csv", dtype=str)
    truth = truth.drop_duplicates("contact_id", keep=False).set_index("contact_id")
    path = WORK / f"clusters-{tool}-{size}"
    clusters = (pd.read_csv(path.with_suffix(".csv"), dtype=str) if tool == "ours"
                else pd.read_parquet(path.with_suffix(".parquet"))).set_index("record_id")
    return evaluate(clusters["cluster_id"].astype(str), truth["entity_id"], truth["household_id"])


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    tools = {"ours": ours, "recordlinkage": recordlinkage_baseline}
    if _has_splink():
        tools["splink"] = splink
    else:
        print("Splink is not installed (pip install -e '.[bench]'): measuring without it")
    for size in SIZES:
        measure(f"prepare {size:,} contacts", prepare(size), 1)
        rows, f1 = [], {}
        for tool, code in tools.items():
            row = measure(tool, code(size), REPEATS)
            scores = quality(size, tool)
            f1[tool] = scores.pair_f1
            row.quality = (f"F1={scores.pair_f1:.4f} (P={scores.pair_precision:.4f} R={scores.pair_recall:.4f}), "
                           f"cluster F1={scores.cluster_f1:.4f}, household precision="
                           f"{scores.household_precision:.3f}, {row.quality}")
            rows.append(row)
        report(f"Dedup {size:,} contacts", rows, WORK.parent)
        mine = rows[0]
        met = (mine.seconds < TARGET_SECONDS and mine.peak_mb < TARGET_MB
               and all(f1["ours"] > score for tool, score in f1.items() if tool != "ours"))
        print(f"{'':32} target: under {TARGET_SECONDS} s and {TARGET_MB} MB, F1 above every baseline "
              f"({'met' if met else 'MISSED'})")


if __name__ == "__main__":
    main()
