"""Picklists: the allowed values of each, the spellings known to mean them, and the mapping."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache

from crm_quality.standardize.rules import fix, flag
from crm_quality.standardize.text import fold

MAPPED = fix("picklist.mapped", "Picklist value spelt another way mapped onto the allowed value")
UNKNOWN = flag("picklist.unknown_value", "Picklist value matches none of the allowed values")

SIMILARITY = 0.8
"""How close (difflib ratio) a misspelling must be to an allowed spelling to be mapped to it."""
MARGIN = 0.05
"""How much closer it must be to that value than to any other, or it is ambiguous."""


@dataclass(frozen=True)
class Picklist:
    values: tuple[str, ...]
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Allowed value -> other words CRMs use for it (matched case- and punctuation-blind)."""


PICKLISTS: dict[str, Picklist] = {
    "industry": Picklist(
        ("Technology", "Manufacturing", "Healthcare", "Finance", "Retail", "Energy", "Education",
         "Logistics"),
        {"Technology": ("Tech", "IT", "IT / Software", "Software", "Hi-Tech", "High Tech"),
         "Manufacturing": ("Mfg", "Industrial"),
         "Healthcare": ("Health Care", "Medical", "Pharma"),
         "Finance": ("Financial Services", "Banking", "Insurance"),
         "Retail": ("Retail & Consumer", "Consumer Goods", "E-commerce"),
         "Energy": ("Utilities", "Oil & Gas"),
         "Education": ("Edu", "Higher Education"),
         "Logistics": ("Transportation", "Shipping", "Supply Chain")},
    ),
    "lead_status": Picklist(
        ("New", "Working", "Qualified", "Unqualified", "Converted"),
        {"New": ("Open - Not Contacted", "Open"),
         "Working": ("Working - Contacted", "In Progress", "Contacted"),
         "Qualified": ("MQL", "SQL"),
         "Unqualified": ("Disqualified", "Not Qualified", "Closed - Not Converted"),
         "Converted": ("Closed - Converted",)},
    ),
    "opportunity_stage": Picklist(
        ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"),
        {"Prospecting": ("Prospect",),
         "Qualification": ("Qualify", "Needs Analysis", "Id. Decision Makers"),
         "Proposal": ("Proposal/Price Quote", "Value Proposition", "Quote"),
         "Negotiation": ("Negotiation/Review", "Perception Analysis"),
         "Closed Won": ("Won",),
         "Closed Lost": ("Lost",)},
    ),
    "activity_type": Picklist(
        ("Call", "Email", "Meeting", "Task"),
        {"Call": ("Phone Call", "Phone", "Log a Call"),
         "Email": ("E-mail", "Mail", "Send Email"),
         "Meeting": ("Mtg", "Meeting - In Person", "Video Call", "Event"),
         "Task": ("To Do", "Todo", "Follow-up Task")},
    ),
    "lead_source": Picklist(
        ("Web", "Referral", "Event", "Cold Call", "Advertisement"),
        {"Web": ("Website", "Web Form", "Inbound", "Organic"),
         "Referral": ("Partner Referral", "Employee Referral", "Partner", "Word of mouth"),
         "Event": ("Trade Show", "Conference", "Seminar", "Webinar"),
         "Cold Call": ("Outbound", "Cold Calling"),
         "Advertisement": ("Ads", "Paid Ads", "Advertising", "PPC")},
    ),
    "user_role": Picklist(
        ("admin", "sales_manager", "sales_rep", "marketing", "support", "read_only"),
        {"admin": ("Administrator", "System Administrator", "Sysadmin"),
         "sales_manager": ("Sales Manager", "Sales Director"),
         "sales_rep": ("Sales Rep", "Sales Representative", "Account Executive", "SDR"),
         "marketing": ("Marketing User", "Marketer"),
         "support": ("Support Agent", "Customer Support"),
         "read_only": ("Read Only", "Viewer")},
    ),
}
"""Every picklist: its allowed values and the spellings known to mean them."""


@dataclass(frozen=True)
class Choice:
    value: str | None
    rules: tuple[str, ...]


@lru_cache(maxsize=None)
def _spellings(name: str) -> dict[str, str]:
    """Folded spelling -> allowed value, for every allowed value and synonym of a picklist."""
    picklist = PICKLISTS[name]
    index = {fold(v): v for v in picklist.values}
    for value, words in picklist.synonyms.items():
        for word in words:
            index.setdefault(fold(word), value)
    return index


@lru_cache(maxsize=100_000)
def normalize_picklist(name: str, value: str | None) -> Choice:
    """The allowed value ``value`` means: exact, a known synonym, or one close misspelling.

    A value close to none, or equally close to two different values, is kept as written and
    flagged rather than guessed.
    """
    text = " ".join((value or "").split())
    if not text:
        return Choice(None, ())
    spellings = _spellings(name)
    key = fold(text)
    allowed = spellings.get(key)
    if allowed is None:
        allowed = _closest(key, spellings)
        if allowed is None:
            return Choice(text, (UNKNOWN,))
    return Choice(allowed, () if allowed == value else (MAPPED,))


def _closest(key: str, spellings: dict[str, str]) -> str | None:
    best: dict[str, float] = {}
    for spelling, value in spellings.items():
        score = difflib.SequenceMatcher(None, key, spelling).ratio()
        best[value] = max(score, best.get(value, 0.0))
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
    top_value, top = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return top_value if top >= SIMILARITY and top - runner_up >= MARGIN else None
