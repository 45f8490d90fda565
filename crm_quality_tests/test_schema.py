from crm_quality.schema import TABLE_NAMES, TABLES


def test_the_six_crm_tables_are_declared():
    assert TABLE_NAMES == ("users", "accounts", "contacts", "leads", "opportunities", "activities")


def test_every_key_is_a_required_field_of_its_table():
    for table in TABLES.values():
        assert table.key in table.columns
        assert table.field(table.key).required


def test_foreign_keys_point_at_declared_tables_and_every_record_has_an_owner():
    for table in TABLES.values():
        for fk in table.foreign_keys:
            assert fk.references in TABLES, f"{table.name}.{fk.name}"
        if table.name != "users":
            assert table.field("owner_id").references == "users"
    assert {f.name: f.references for f in TABLES["opportunities"].foreign_keys} == {
        "account_id": "accounts", "contact_id": "contacts", "owner_id": "users"}
    assert {f.references for f in TABLES["activities"].foreign_keys} == {
        "contacts", "leads", "accounts", "opportunities", "users"}
    assert TABLES["contacts"].field("account_id").references == "accounts"


def test_personal_data_is_flagged():
    assert {"first_name", "last_name", "email", "phone", "birth_date"} <= set(TABLES["contacts"].pii)
    assert "name" not in TABLES["accounts"].pii


def test_picklist_fields_name_their_picklist():
    for table in TABLES.values():
        for field in table.fields:
            assert (field.kind == "picklist") == (field.picklist is not None), field


def test_every_field_has_a_staged_type():
    for table in TABLES.values():
        for field in table.fields:
            assert field.sql_type, f"{table.name}.{field.name}"
    assert TABLES["opportunities"].field("amount").sql_type == "DECIMAL(18, 2)"
    assert TABLES["contacts"].field("birth_date").sql_type == "DATE"
