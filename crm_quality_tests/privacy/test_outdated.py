"""Contacts and leads nobody touched for stale_after_days, and leads left unconverted for
stale_lead_days, are listed (never deleted)."""

from __future__ import annotations

import duckdb

from crm_quality.privacy.outdated import find_outdated
from crm_quality_tests.conftest import make_settings

TABLES_SQL = """
CREATE SCHEMA clean; CREATE SCHEMA quality;
CREATE TABLE clean.users (user_id VARCHAR, last_login_at TIMESTAMPTZ);
INSERT INTO clean.users VALUES ('U-gone', '2020-01-01'), ('U-here', '2026-10-30');
CREATE TABLE clean.contacts (contact_id VARCHAR, owner_id VARCHAR, last_modified_at TIMESTAMPTZ, created_at TIMESTAMPTZ);
INSERT INTO clean.contacts VALUES
    ('C-forgotten', 'U-gone', '2021-05-01', '2019-01-01'),  -- nothing since 2021
    ('C-called', 'U-gone', '2021-05-01', '2019-01-01'),     -- an activity last month
    ('C-owned', 'U-here', '2021-05-01', '2019-01-01'),      -- its owner logs in
    ('C-edited', 'U-gone', '2026-06-01', '2019-01-01');     -- changed this year
CREATE TABLE clean.leads (lead_id VARCHAR, status VARCHAR, converted_contact_id VARCHAR, owner_id VARCHAR,
                          last_modified_at TIMESTAMPTZ, created_at TIMESTAMPTZ);
INSERT INTO clean.leads VALUES
    ('L-open-old', 'Working', NULL, 'U-here', '2026-10-01', '2025-01-01'),    -- open for almost two years
    ('L-converted', 'Converted', NULL, 'U-here', '2026-10-01', '2025-01-01'),
    ('L-linked', 'Qualified', 'C-owned', 'U-here', '2026-10-01', '2025-01-01'),
    ('L-new', 'New', NULL, 'U-here', '2026-10-01', '2026-09-01');
CREATE TABLE clean.activities (activity_id VARCHAR, contact_id VARCHAR, lead_id VARCHAR, activity_date TIMESTAMPTZ);
INSERT INTO clean.activities VALUES ('A-1', 'C-called', NULL, '2026-10-15');
"""


def test_untouched_contacts_and_unconverted_leads_are_listed(tmp_path):
    settings = make_settings(tmp_path, tmp_path, as_of="2026-11-01", stale_after_days=730, stale_lead_days=180)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(TABLES_SQL)

    assert find_outdated(con, settings, "run-1") == {"contacts": 1, "leads": 1}
    assert con.execute("SELECT table_name, record_id, reason, owner_id FROM quality.outdated ORDER BY ALL").fetchall() \
        == [("contacts", "C-forgotten", "untouched", "U-gone"), ("leads", "L-open-old", "not_converted", "U-here")]
    assert con.execute("SELECT count(*) FROM clean.contacts").fetchone()[0] == 4, "nothing is deleted"

    later = settings.replace(stale_lead_days=30)
    assert find_outdated(con, later, "run-2") == {"contacts": 1, "leads": 2}, "L-new is now overdue too"
