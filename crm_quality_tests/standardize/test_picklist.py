"""Picklists come with the source: every standard value of the shipped mappings is kept as it is,
a team's settings extend or replace them, and only what is certainly the same word is corrected."""

import re

import pytest

from crm_quality.errors import SettingsError
from crm_quality.sample.vocabulary import PICKLIST_SPELLINGS, STAGE_PROBABILITY
from crm_quality.settings import load_settings
from crm_quality.sources.mapping import load_mapping
from crm_quality.standardize.picklist import MAPPED, UNKNOWN, normalize_picklist

SAMPLE = load_mapping("sample").picklists


def test_the_sample_generator_draws_on_the_sample_mappings_values():
    for name, spellings in PICKLIST_SPELLINGS.items():
        assert tuple(spellings) == SAMPLE[name].values
    assert dict(SAMPLE["opportunity_stage"].probability) == STAGE_PROBABILITY


@pytest.mark.parametrize("mapping", ["salesforce", "hubspot", "sample"])
def test_every_standard_value_of_a_mapping_is_kept_as_it_is(mapping):
    for picklist in load_mapping(mapping).picklists.values():
        for value in picklist.values:
            assert normalize_picklist(picklist, value).value == value, (picklist.name, value)
            assert normalize_picklist(picklist, value).rules == (), (picklist.name, value)


@pytest.mark.parametrize("name, value, allowed", [
    ("opportunity_stage", "closed won", "Closed Won"), ("opportunity_stage", "Closed-Won", "Closed Won"),
    ("opportunity_stage", "Proposal/Price Quote", "Proposal"), ("opportunity_stage", "Negociation", "Negotiation"),
    ("lead_status", "Open - Not Contacted", "New"), ("lead_status", "Qualifed", "Qualified"),
    ("industry", "Helthcare", "Healthcare"), ("industry", "Financial Services", "Finance"),
    ("industry", "Logisitics", "Logistics"), ("industry", "Retial", "Retail"),
    ("activity_type", "E-mail", "Email"), ("activity_type", "To-do", "Task"),
])
def test_case_punctuation_synonyms_and_one_slip_map_onto_the_allowed_value(name, value, allowed):
    choice = normalize_picklist(SAMPLE[name], value)
    assert (choice.value, choice.rules) == (allowed, (MAPPED,))


@pytest.mark.parametrize("mapping, name, value", [
    ("sample", "industry", "Media"), ("sample", "industry", "Biotechnology"), ("sample", "industry", "Insurance"),
    ("sample", "industry", "Finances and Energy"), ("sample", "lead_source", "Webinars and Events"),
    ("sample", "opportunity_stage", "Closed"), ("sample", "opportunity_stage", "Proposed"),
    ("sample", "lead_status", "News"), ("sample", "activity_type", "Calls"),
    ("salesforce", "industry", "Medical"), ("salesforce", "industry", "Mining"),
    ("salesforce", "lead_source", "Partnership"), ("salesforce", "industry", "Retailer"),
    ("hubspot", "lead_status", "Opened"), ("hubspot", "industry", "Computer Science"),
])
def test_a_real_word_near_an_allowed_value_is_kept_and_flagged(mapping, name, value):
    choice = normalize_picklist(load_mapping(mapping).picklists[name], value)
    assert (choice.value, choice.rules) == (value, (UNKNOWN,))


def test_a_settings_file_extends_or_replaces_a_mappings_picklist(tmp_path):
    config = tmp_path / "crm_quality.yaml"
    config.write_text("""
mapping: salesforce
picklists:
  industry:
    values: [Crypto]
    synonyms: {Technology: [SaaS]}
  opportunity_stage:
    replace: true
    values:
      - Discovery: {probability: 10}
      - Signed: {probability: 100, won: true}
      - Dead: {probability: 0, closed: true}
""")
    picklists = load_settings(config_file=config, env={}).picklist_catalogue()
    industry, stages = picklists["industry"], picklists["opportunity_stage"]
    assert {"Media", "Insurance", "Crypto"} <= set(industry.values)
    assert normalize_picklist(industry, "saas").value == "Technology"
    assert stages.values == ("Discovery", "Signed", "Dead") and stages.closed == ("Signed", "Dead")
    assert stages.won == ("Signed",) and dict(stages.probability)["Signed"] == 100


@pytest.mark.parametrize("text, message", [
    ("picklists:\n  colour: {values: [Red]}\n", "unknown picklist(s) 'colour'"),
    ("picklists:\n  industry: {values: [Crypto], synonyms: {Tech: [SaaS]}}\n", "synonyms name 'Tech'"),
    ("picklists:\n  industry: {value: [Crypto]}\n", "unknown key(s) value"),
    ("picklists:\n  opportunity_stage: {values: [{Won: {probability: 120}}]}\n", "must be a number from 0 to 100"),
])
def test_a_mistaken_picklist_in_the_settings_is_a_clear_error(tmp_path, text, message):
    config = tmp_path / "crm_quality.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(config_file=config, env={})


def test_a_mistaken_picklist_in_a_mapping_names_its_line(tmp_path):
    text = (load_mapping("sample").path.read_text().split("\npicklists:")[0]
            + "\npicklists:\n  industry:\n    values: [A]\n  colour:\n    values: [Red]\n")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    line = text.splitlines().index("  colour:") + 1
    with pytest.raises(SettingsError, match=f"line {line}: unknown picklist 'colour'"):
        load_mapping(str(path))
