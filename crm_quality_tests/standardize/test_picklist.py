import pytest

from crm_quality.sample.vocabulary import PICKLIST_SPELLINGS
from crm_quality.standardize.picklist import MAPPED, PICKLISTS, UNKNOWN, normalize_picklist


def test_the_sample_generator_draws_on_the_allowed_values():
    for name, spellings in PICKLIST_SPELLINGS.items():
        assert tuple(spellings) == PICKLISTS[name].values


@pytest.mark.parametrize("name, value, allowed", [
    ("opportunity_stage", "closed won", "Closed Won"), ("opportunity_stage", "Closed-Won", "Closed Won"),
    ("opportunity_stage", "Proposal/Price Quote", "Proposal"), ("opportunity_stage", "Negociation", "Negotiation"),
    ("lead_status", "Open - Not Contacted", "New"), ("lead_status", "Qualifed", "Qualified"),
    ("industry", "Helthcare", "Healthcare"), ("industry", "Financial Services", "Finance"),
    ("activity_type", "E-mail", "Email"), ("activity_type", "To-do", "Task"),
])
def test_variants_map_onto_the_allowed_value(name, value, allowed):
    assert normalize_picklist(name, value).value == allowed
    assert normalize_picklist(name, value).rules == (MAPPED,)


def test_the_allowed_spelling_is_not_a_change():
    assert normalize_picklist("opportunity_stage", "Closed Won").rules == ()


@pytest.mark.parametrize("value", ["Banana", "Closed", "xyz"])
def test_unknown_or_ambiguous_values_are_flagged_and_kept(value):
    choice = normalize_picklist("opportunity_stage", value)
    assert (choice.value, choice.rules) == (value, (UNKNOWN,))
