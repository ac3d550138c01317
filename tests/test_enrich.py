"""Rule 2: the broadcast lookup join (the notebook's country enrichment), inner or left."""

import cdc_rs
import pyarrow as pa
import pytest
from conftest import (COUNTRIES, CUSTOMER_DDL, at, bronze, counts, customers, emails, event,
                      instant, notebook_upsert)


def enriching(**overrides):
    return enriching_with(COUNTRIES, **overrides)


def enriching_with(lookup, **overrides):
    return notebook_upsert(lookup=lookup, lookup_on={"country_code": "code"}, **overrides)


def countries(upsert) -> dict:
    return {r["customer_id"]: r["country"] for r in upsert.target.to_arrow().to_pylist()}


def test_inner_lookup_appends_the_lookup_columns():
    upsert = enriching()
    upsert(customers(event("C1", 1, country="CN"), event("C2", 1, country="NL")), 0)
    table = upsert.target.to_arrow()
    assert {"country", "calling_code"} <= set(table.column_names)
    rows = {r["customer_id"]: r for r in table.to_pylist()}
    assert rows["C1"]["country"] == "China" and rows["C1"]["calling_code"] == "86"
    assert rows["C2"]["country"] == "Netherlands" and rows["C2"]["country_code"] == "NL"


def test_inner_lookup_drops_and_rejects_a_miss():
    upsert = enriching()
    report = upsert(customers(event("C1", 1, country="ZZ"), event("C2", 1, country="FR")), 0)
    assert counts(report) == {"lookup_misses": 1, "inserted": 1}
    assert report.rejected["reason"].to_pylist() == ["lookup_miss"]
    assert report.rejected["customer_id"].to_pylist() == ["C1"]
    assert countries(upsert) == {"C2": "France"}


def test_left_lookup_keeps_a_miss_with_null_lookup_columns():
    upsert = enriching(lookup_how="left")
    report = upsert(customers(event("C1", 1, country="ZZ"), event("C2", 1, country="FR")), 0)
    assert counts(report) == {"inserted": 2}
    assert countries(upsert) == {"C1": None, "C2": "France"}


def test_a_null_join_key_never_matches_even_a_null_lookup_key():
    lookup = pa.table({"code": ["FR", None], "country": ["France", "Nowhere"]})
    inner = notebook_upsert(lookup=lookup, lookup_on={"country_code": "code"})
    report = inner(customers(event("C1", 1, country=None)), 0)
    assert counts(report) == {"lookup_misses": 1}
    left = notebook_upsert(lookup=lookup, lookup_on={"country_code": "code"}, lookup_how="left")
    left(customers(event("C1", 1, country=None)), 0)
    assert countries(left) == {"C1": None}


def test_a_delete_is_never_enriched_so_it_never_misses():
    upsert = enriching(delete_operations=("delete",))
    upsert(customers(event("C1", 1)), 0)
    report = upsert(customers(event("C1", 2, "delete", country="ZZ"),
                              event("C2", 2, "delete", country=None)), 1)
    assert counts(report) == {"deleted": 1, "tombstoned": 1}
    assert emails(upsert) == {}


def test_a_lookup_miss_never_supersedes_a_matching_older_event():
    upsert = enriching()
    report = upsert(customers(event("C1", 1, country="FR"), event("C1", 9, country="ZZ")), 0)
    assert counts(report) == {"inserted": 1, "lookup_misses": 1}
    assert emails(upsert) == {"C1": "C1@1"}


def test_an_update_replaces_the_enriched_columns_too():
    upsert = enriching()
    upsert(customers(event("C1", 1, country="FR")), 0)
    upsert(customers(event("C1", 2, country="CN")), 1)
    assert countries(upsert) == {"C1": "China"}


def test_duplicate_lookup_keys_raise_a_value_error_naming_the_key():
    lookup = pa.table({"code": ["FR", "CN", "FR"], "country": ["France", "China", "Francia"]})
    with pytest.raises(ValueError, match="FR"):
        notebook_upsert(lookup=lookup, lookup_on={"country_code": "code"})


def test_the_lookup_may_join_on_a_column_of_the_same_name():
    lookup = pa.table({"country_code": ["FR"], "country": ["France"]})
    upsert = notebook_upsert(lookup=lookup, lookup_on={"country_code": "country_code"})
    report = upsert(customers(event("C1", 1, country="FR"), event("C2", 1, country="CN")), 0)
    assert counts(report) == {"inserted": 1, "lookup_misses": 1}
    table = upsert.target.to_arrow()
    assert table.column_names.count("country_code") == 1
    assert table.to_pylist()[0]["country"] == "France"


def test_the_lookup_may_join_on_two_columns():
    schema = pa.schema([("id", pa.string()), ("cc", pa.string()), ("lang", pa.string()),
                        ("seq", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"id": "a", "cc": "BE", "lang": "fr", "seq": 1},
            {"id": "b", "cc": "BE", "lang": "nl", "seq": 1},
            {"id": "c", "cc": "BE", "lang": "de", "seq": 1},
            {"id": "d", "cc": "FR", "lang": "nl", "seq": 1},
        ],
        schema=schema,
    )
    lookup = pa.table({"code": ["BE", "BE", "FR"], "language": ["fr", "nl", "fr"],
                       "greeting": ["bonjour", "hallo", "salut"]})
    upsert = notebook_upsert(keys="id", sequence_by="seq", operation_column=None, lookup=lookup,
                             lookup_on={"cc": "code", "lang": "language"})
    report = upsert(batch, 0)
    assert counts(report) == {"inserted": 2, "lookup_misses": 2}
    got = {r["id"]: r["greeting"] for r in upsert.target.to_arrow().to_pylist()}
    assert got == {"a": "bonjour", "b": "hallo"}


def test_the_notebook_pipeline_fills_the_silver_table():
    silver = ["customer_id", "email", "country", "row_time"]
    upsert = notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers", lookup=COUNTRIES,
                             lookup_on={"country_code": "code"}, columns=silver)
    upsert(bronze(event("C1", 1, "insert", country="CN"), ("books", "{}"),
                  event("C2", 1, "insert", country="NL"), event("C1", 5, "update", country="FR")), 0)
    upsert(bronze(event("C2", 0, "update", country="FR"), event("C3", 2, "insert", country="XX")), 1)
    table = upsert.target.to_arrow()
    assert set(table.column_names) == set(silver)
    rows = sorted(table.to_pylist(), key=lambda r: r["customer_id"])
    assert [(r["customer_id"], r["email"], r["country"]) for r in rows] == [
        ("C1", "C1@5", "France"),
        ("C2", "C2@1", "Netherlands"),
    ]
    assert [instant(r["row_time"]) for r in rows] == [at(5), at(1)]


def test_a_fractional_join_value_never_matches_an_integer_lookup_key():
    # Spark compares 1.5 = 1 as doubles: no match. Refusing the types is fine; rounding is not.
    lookup = pa.table({"code": pa.array([1], pa.int64()), "name": ["one"]})
    upsert = notebook_upsert(keys="id", sequence_by="s", operation_column=None, lookup=lookup,
                             lookup_on={"c": "code"})
    batch = pa.table({"id": ["a", "b"], "s": [1, 1], "c": pa.array([1.5, 1.0])})
    try:
        report = upsert(batch, 0)
    except (ValueError, cdc_rs.CdcError):
        assert len(upsert.target) == 0
    else:
        assert counts(report) == {"inserted": 1, "lookup_misses": 1}
        assert {r["id"]: r["name"] for r in upsert.target.to_arrow().to_pylist()} == {"b": "one"}


def test_the_lookup_is_read_once_when_the_upsert_is_built():
    lookup = COUNTRIES.to_pandas()
    upsert = enriching_with(lookup)
    lookup.loc[lookup["code"] == "FR", "country"] = "changed after build"
    upsert(customers(event("C1", 1, country="FR")), 0)
    upsert(customers(event("C2", 1, country="FR")), 1)
    assert countries(upsert) == {"C1": "France", "C2": "France"}


def test_a_lookup_given_as_a_stream_serves_every_batch():
    reader = pa.RecordBatchReader.from_batches(COUNTRIES.schema, COUNTRIES.to_batches())
    upsert = enriching_with(reader)
    for batch_id, code in enumerate(["FR", "CN", "NL"]):
        upsert(customers(event(f"C{batch_id}", 1, country=code)), batch_id)
    assert countries(upsert) == {"C0": "France", "C1": "China", "C2": "Netherlands"}


def test_a_null_in_any_part_of_a_two_column_join_never_matches():
    lookup = pa.table({"code": ["FR", None], "lang": [None, "fr"], "greeting": ["a", "b"]})
    upsert = notebook_upsert(lookup=lookup, lookup_on={"country_code": "code", "email": "lang"},
                             lookup_how="left")
    upsert(customers(event("C1", 1, country="FR", email=None)), 0)
    upsert(customers({**event("C2", 1, email="fr"), "country_code": None}), 1)
    got = {r["customer_id"]: r["greeting"] for r in upsert.target.to_arrow().to_pylist()}
    assert got == {"C1": None, "C2": None}
