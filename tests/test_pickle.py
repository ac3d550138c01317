"""Rule 7: the upsert pickles (Spark ships foreachBatch functions to workers with cloudpickle)."""

import pickle

import cdc_rs
import cloudpickle
import pyarrow as pa
import pytest
from conftest import (COUNTRIES, CUSTOMER_DDL, bronze, customers, emails, event,
                      notebook_upsert)
from reference import COUNTERS

PICKLERS = {"pickle": pickle, "cloudpickle": cloudpickle}


@pytest.fixture(params=sorted(PICKLERS))
def roundtrip(request):
    module = PICKLERS[request.param]
    return lambda obj: pickle.loads(module.dumps(obj))


def test_an_unpickled_upsert_works_on_its_own(roundtrip):
    copy = roundtrip(notebook_upsert())
    report = copy(customers(event("C1", 1), event("C1", 2)), 0)
    assert report.inserted == 1
    assert emails(copy) == {"C1": "C1@2"}


def test_the_copy_and_the_original_do_not_share_a_target(roundtrip):
    original = notebook_upsert()
    copy = roundtrip(original)
    copy(customers(event("C1", 1)), 0)
    original(customers(event("C2", 1)), 0)
    assert emails(copy) == {"C1": "C1@1"}
    assert emails(original) == {"C2": "C2@1"}


def test_the_copy_keeps_the_whole_configuration(roundtrip):
    def build():
        return notebook_upsert(value_schema=CUSTOMER_DDL, topic="customers",
                               delete_operations=("delete",), lookup=COUNTRIES,
                               lookup_on={"country_code": "code"},
                               columns=["customer_id", "email", "country", "row_time"])

    batches = [
        bronze(event("C1", 1, country="NL"), event("C2", 1), event("C3", 1, country="ZZ"),
               ("orders", event("C4", 1)), "{bad", event("C5", 1, "merge")),
        bronze(event("C2", 3, "delete"), event("C1", 0), event("C6", 2, "delete")),
    ]
    original, copy = build(), roundtrip(build())
    for batch_id, batch in enumerate(batches):
        a, b = original(batch, batch_id), copy(batch, batch_id)
        assert {n: getattr(a, n) for n in COUNTERS} == {n: getattr(b, n) for n in COUNTERS}
    assert copy.target.to_arrow().sort_by("customer_id") == \
        original.target.to_arrow().sort_by("customer_id")
    assert set(copy.target.to_arrow().column_names) == {"customer_id", "email", "country",
                                                        "row_time"}
    assert emails(copy) == {"C1": "C1@1"}


def test_a_copy_of_a_used_upsert_applies_the_next_batch_to_its_own_target(roundtrip):
    original = notebook_upsert()
    original(customers(event("C1", 1)), 0)
    copy = roundtrip(original)
    report = copy(customers(event("C2", 1)), 1)
    assert report.skipped_replay is False
    assert "C2" in emails(copy)
    assert "C2" not in emails(original)


def test_a_copy_that_carries_the_rows_carries_their_sequences_and_tombstones_too(roundtrip):
    original = notebook_upsert(delete_operations=("delete",))
    original(customers(*[event(f"C{i}", 10) for i in range(5000)]), 0)
    original(customers(*[event(f"C{i}", 20 + (i % 2)) for i in range(5000)]), 1)  # compacts
    original(customers(event("C0", 30, "delete"), event("T", 30, "delete")), 2)
    copy = roundtrip(original)
    if len(copy.target) == 0:
        pytest.skip("this copy starts from an empty target")
    later = customers(event("C1", 20), event("C2", 22), event("C0", 25), event("T", 29),
                      event("C0", 30), event("C3", 5, "delete"))
    a, b = original(later, 3), copy(later, 3)
    assert {n: getattr(b, n) for n in COUNTERS} == {n: getattr(a, n) for n in COUNTERS}
    assert emails(copy) == emails(original)
    assert copy(customers(event("C9", 99)), 3).skipped_replay is True


def test_an_upsert_whose_keys_are_dictionary_encoded_pickles_after_a_batch(roundtrip):
    # pandas Categorical columns arrive as Arrow dictionaries.
    upsert = cdc_rs.batch_upsert(keys="k", sequence_by="s")
    keys = pa.array(["a", "b"]).dictionary_encode()
    upsert(pa.table({"k": keys, "s": [1, 1], "v": ["x", "y"]}), 0)
    copy = roundtrip(upsert)
    copy(pa.table({"k": ["b", "c"], "s": [2, 2], "v": ["y2", "z"]}), 1)
    got = {r["k"]: r["v"] for r in copy.target.to_arrow().to_pylist()}
    assert got["b"] == "y2" and got["c"] == "z"
