"""A small B2B sales export in the shape of the public "CRM Sales Opportunities" data: accounts,
sales agents and products named by their names (no id columns), and a deal pipeline that refers
to them by name. Revenue is in millions of dollars. Written by the tests, and by the README's
worked example of mapping a CRM that is neither Salesforce nor HubSpot."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

SECTORS = ("technolgy", "medical", "retail", "software", "finance", "marketing", "telecommunications")
OFFICES = ("United States", "Kenya", "Philipines", "Japan", "Italy", "Norway")
PRODUCTS = (("GTX Basic", "GTX", 550), ("GTX Pro", "GTX", 4821), ("MG Special", "MG", 55),
            ("MG Advanced", "MG", 3393), ("GTK 500", "GTK", 26768))
MISSPELT_PRODUCT = ("GTXPro", "GTX Pro")
"""How the pipeline writes one product, and how the product list writes it."""
AGENTS = ("Moses Frase", "Darcel Schlecht", "Zane Levy", "Maureen Marcano", "Versie Hillebrand",
          "Cassey Cress", "Donn Cantrell", "Reed Clapper")
IDLE_AGENTS = ("Mei-Mei Johns", "Elizabeth Anderson")
"""Agents in the team list who own no deal."""
STAGES = ("Prospecting", "Engaging", "Won", "Lost")


def write_b2b_export(folder: Path, accounts: int = 24, deals: int = 240, seed: int = 7) -> Path:
    """Write accounts.csv, sales_teams.csv, products.csv and sales_pipeline.csv to ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{rng.choice(('Acme', 'Bluth', 'Cyberdyne', 'Dunder', 'Globex', 'Hooli', 'Initech', 'Stark'))}"
             f"{rng.choice(('', 'tech', 'soft', 'corp'))} {n}" for n in range(accounts)]
    _write(folder / "accounts.csv", ["account", "sector", "year_established", "revenue", "employees",
                                     "office_location", "subsidiary_of"],
           [[name, rng.choice(SECTORS), rng.randint(1979, 2017), f"{rng.uniform(4, 11000):.2f}",
             rng.randint(9, 20000), rng.choice(OFFICES), ""] for name in names])
    _write(folder / "sales_teams.csv", ["sales_agent", "manager", "regional_office"],
           [[agent, "Dustin Brinkmann", rng.choice(("Central", "East", "West"))] for agent in AGENTS + IDLE_AGENTS])
    _write(folder / "products.csv", ["product", "series", "sales_price"], [list(p) for p in PRODUCTS])
    start = date(2026, 1, 1)
    rows = []
    for n in range(deals):
        stage = STAGES[n % len(STAGES)]
        engaged = start + timedelta(days=rng.randint(0, 300))
        closed = stage in ("Won", "Lost")
        product = rng.choice([p[0] for p in PRODUCTS])
        if product == MISSPELT_PRODUCT[1] and n % 2:
            product = MISSPELT_PRODUCT[0]
        rows.append([f"D{n:05d}", rng.choice(AGENTS), product, rng.choice(names),
                     stage, engaged.isoformat(),
                     (engaged + timedelta(days=rng.randint(5, 90))).isoformat() if closed else "",
                     rng.randint(100, 30000) if stage == "Won" else 0 if closed else ""])
    _write(folder / "sales_pipeline.csv", ["opportunity_id", "sales_agent", "product", "account", "deal_stage",
                                           "engage_date", "close_date", "close_value"], rows)
    return folder


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
