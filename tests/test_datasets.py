"""Tests of the synthetic bookstore data set (cdc_rs.datasets)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cdc_rs.datasets import (
    BOOKS_SCHEMA,
    BRONZE_SCHEMA,
    CUSTOMERS_SCHEMA,
    ORDERS_SCHEMA,
    SILVER_COLUMNS,
    Anomalies,
    Bookstore,
    bookstore,
    country_lookup,
    read_country_lookup,
    read_parquet_batches,
)

CUSTOMER_FIELDS = [f.split()[0] for f in CUSTOMERS_SCHEMA.split(", ")]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NAIVE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture(scope="module")
def ds() -> Bookstore:
    return bookstore(events=40_000, batches=4, seed=3)


@pytest.fixture(scope="module")
def customers(ds: Bookstore) -> list[dict]:
    """Customers records of ``ds`` in arrival order, each with ``doc`` (parsed JSON or None)."""
    rows = ds.bronze_table().filter(pc.field("topic") == "customers").to_pylist()
    for r in rows:
        r["doc"] = _parse(r["value"])
    return rows


def _parse(value: bytes) -> dict | None:
    try:
        doc = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _utc(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def test_deterministic_per_seed():
    a, b = bookstore(5_000, batches=2, seed=11), bookstore(5_000, batches=2, seed=11)
    assert all(x.equals(y) for x, y in zip(a.bronze, b.bronze))
    c = bookstore(5_000, batches=2, seed=12)
    assert not a.bronze_table().equals(c.bronze_table())


def test_shapes_and_types(ds: Bookstore):
    assert len(ds.bronze) == 4
    assert sum(len(b) for b in ds.bronze) == ds.events == 40_000
    assert max(len(b) for b in ds.bronze) - min(len(b) for b in ds.bronze) <= 1
    for batch in ds.bronze:
        assert batch.schema == BRONZE_SCHEMA
    assert ds.bronze_table().schema == BRONZE_SCHEMA
    assert len(ds.bronze_table()) == 40_000
    assert SILVER_COLUMNS[-1] == "row_time" and "country" in SILVER_COLUMNS


@pytest.mark.parametrize("events,batches", [(0, 1), (1, 3), (7, 5), (1_001, 10)])
def test_batch_sizes_sum_to_events(events: int, batches: int):
    ds = bookstore(events, batches=batches)
    assert len(ds.bronze) == batches
    assert sum(len(b) for b in ds.bronze) == events


def test_kafka_layout_offsets_and_timestamps(ds: Bookstore):
    """Within a topic-partition, records come in offset order 0, 1, 2, ... with
    non-decreasing timestamps, across all micro-batches; a batch holds whole time slices."""
    df = ds.bronze_table().select(["topic", "partition", "offset", "timestamp"]).to_pandas()
    for _, g in df.groupby(["topic", "partition"], sort=False):
        assert g["offset"].tolist() == list(range(len(g)))
        assert g["timestamp"].is_monotonic_increasing
    ends = [b["timestamp"].to_pandas().max() for b in ds.bronze]
    begins = [b["timestamp"].to_pandas().min() for b in ds.bronze]
    assert all(e <= b for e, b in zip(ends, begins[1:]))


def test_customer_keys_partitioned(ds: Bookstore):
    t = ds.bronze_table().filter(pc.field("topic") == "customers").to_pandas()
    assert (t.dropna(subset=["key"]).groupby("key")["partition"].nunique() == 1).all()


def test_topic_proportions(ds: Bookstore):
    counts = ds.topic_counts()
    assert set(counts) == {"customers", "orders", "books"}
    assert 0.55 < counts["customers"] / ds.events < 0.65
    assert counts["orders"] > counts["books"] > 0


def test_distinct_customers_about_a_tenth_of_events(ds: Bookstore, customers: list[dict]):
    ids = {r["doc"].get("customer_id") for r in customers if r["doc"]} - {None}
    assert len(ids) == ds.customers == 4_000
    assert all(re.fullmatch(r"C\d{5}", i) for i in ids)
    assert "C00001" in ids and "C04000" in ids


def test_customer_ids_zero_padded_and_widen_when_needed():
    keys = bookstore(3_000, customers=1_500, topic_shares=(1, 0, 0)).bronze_table()["key"]
    values = keys.drop_null().to_pylist()
    assert b"C00001" in values and b"C01500" in values and all(len(v) == 6 for v in values)
    wide = bookstore(250_000, customers=120_000, topic_shares=(1, 0, 0))
    assert wide.customers == 120_000
    values = set(wide.bronze_table()["key"].drop_null().to_pylist())
    assert b"C000001" in values and b"C120000" in values and len(values) == 120_000


def test_customers_values_parse_with_schema_fields(customers: list[dict]):
    good = [r for r in customers if r["doc"] is not None]
    assert len(good) >= 0.99 * len(customers)
    for r in good:
        assert set(r["doc"]) <= set(CUSTOMER_FIELDS)
        assert {"first_name", "last_name", "gender", "city", "country_code",
                "row_status", "row_time"} <= set(r["doc"])
        rt = r["doc"]["row_time"]
        assert rt is None or ISO_Z.match(rt) or NAIVE.match(rt) or OFFSET.match(rt)


def test_first_event_insert_then_updates_and_deletes(customers: list[dict]):
    seen: set[str] = set()
    statuses: Counter[str] = Counter()
    for r in customers:
        doc = r["doc"]
        if not doc or doc.get("customer_id") is None:
            continue
        if doc["customer_id"] not in seen:
            assert doc["row_status"] == "insert"
            seen.add(doc["customer_id"])
        statuses[doc["row_status"]] += 1
    n = sum(statuses.values())
    assert 0.6 < statuses["update"] / n < 0.9
    assert 0.01 < statuses["delete"] / n < 0.03
    other = set(statuses) - {"insert", "update", "delete"}
    assert other and sum(statuses[s] for s in other) > 0


def test_anomaly_proportions(customers: list[dict]):
    n = len(customers)
    docs = [r["doc"] for r in customers if r["doc"]]
    null_email = sum(d.get("email") is None for d in docs) / len(docs)
    null_street = sum(d.get("street") is None for d in docs) / len(docs)
    assert 0.07 < null_email < 0.13 and 0.07 < null_street < 0.13
    assert any("email" not in d for d in docs) and any(d.get("email", 0) is None for d in docs)
    unknown = sum(d["country_code"] not in set(country_lookup()["code"].to_pylist())
                  for d in docs) / len(docs)
    assert 0.005 < unknown < 0.02
    replays = sum(c - 1 for c in Counter(r["value"] for r in customers).values()) / n
    assert 0.005 < replays < 0.02
    spellings = Counter(
        "z" if ISO_Z.match(d["row_time"]) else "naive" if NAIVE.match(d["row_time"]) else "off"
        for d in docs if d["row_time"]
    )
    assert spellings["z"] > 0.8 * len(docs) and spellings["naive"] > 0 and spellings["off"] > 0
    assert any(d["row_time"] is None for d in docs)
    assert any(d.get("customer_id") is None for d in docs)


def test_late_events_and_ties(customers: list[dict]):
    previous: dict[str, tuple[datetime, bytes]] = {}
    late = ties = total = 0
    for r in customers:
        doc = r["doc"]
        if not doc or doc.get("customer_id") is None or doc.get("row_time") is None:
            continue
        total += 1
        t = _utc(doc["row_time"])
        before = previous.get(doc["customer_id"])
        if before is not None:
            late += t < before[0]
            ties += t == before[0] and r["value"] != before[1]
        previous[doc["customer_id"]] = (t, r["value"])
    assert 0.03 < late / total < 0.07
    assert 0.005 < ties / total < 0.015


def test_malformed_values_present(ds: Bookstore, customers: list[dict]):
    bad = [r["value"] for r in customers if r["doc"] is None]
    assert 0 < len(bad) < 0.003 * len(customers)
    assert b"" in bad
    assert any(not v.startswith(b"{") and v for v in bad)  # plain text
    assert any(v.startswith(b"{") for v in bad)  # truncated JSON or bad bytes

    def invalid_utf8(v: bytes) -> bool:
        try:
            v.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    big = bookstore(200_000, seed=5).bronze_table()
    values = big.filter(pc.field("topic") == "customers").column("value").to_pylist()
    assert any(invalid_utf8(v) for v in values)


def test_orders_and_books_valid(ds: Bookstore):
    t = ds.bronze_table()
    orders = [_parse(v) for v in t.filter(pc.field("topic") == "orders")["value"].to_pylist()]
    good = [o for o in orders if o]
    assert len(good) >= 0.99 * len(orders)
    for o in good:
        assert set(o) == {"order_id", "order_timestamp", "customer_id", "quantity", "total",
                          "books"}
        assert ISO_Z.match(o["order_timestamp"])
        assert o["quantity"] == sum(b["quantity"] for b in o["books"])
        assert o["total"] == sum(b["subtotal"] for b in o["books"])
    books = [_parse(v) for v in t.filter(pc.field("topic") == "books")["value"].to_pylist()]
    for b in filter(None, books):
        assert set(b) == {"book_id", "title", "author", "category", "price", "row_status",
                          "row_time"}
        assert b["row_status"] in ("insert", "update") and b["price"] > 0


@pytest.mark.parametrize("topic,schema", [("customers", CUSTOMERS_SCHEMA),
                                          ("orders", ORDERS_SCHEMA), ("books", BOOKS_SCHEMA)])
def test_values_decode_with_their_schema(ds: Bookstore, topic: str, schema: str):
    """Every well-formed value decodes with the topic's schema (Spark's from_json, FAILFAST),
    and every customers row_time spelling means the instant it should."""
    import cdc_rs

    rows = ds.bronze_table().filter(pc.field("topic") == topic)["value"].to_pylist()
    values = [v for v in rows if _parse(v) is not None]
    decoded = cdc_rs.from_json(pa.array(values, pa.binary()), schema, mode="FAILFAST")
    assert len(decoded) == len(values) and decoded.null_count == 0
    if topic == "customers":
        for value, row in zip(values, decoded.to_pylist()):
            text = (_parse(value) or {}).get("row_time")
            assert row["row_time"] == (None if text is None else _utc(text))


def test_keys_match_values(customers: list[dict]):
    for r in customers:
        if r["doc"] and r["doc"].get("customer_id") is not None:
            assert r["key"] == r["doc"]["customer_id"].encode()


def test_clean_feed_has_no_anomalies():
    t = bookstore(10_000, anomalies=Anomalies.none()).bronze_table()
    docs = [_parse(v) for v in t.filter(pc.field("topic") == "customers")["value"].to_pylist()]
    assert all(docs)
    assert {d["row_status"] for d in docs} == {"insert", "update"}
    assert all(d.get("email") and d.get("street") and ISO_Z.match(d["row_time"]) for d in docs)


def test_country_lookup():
    t = country_lookup()
    assert t.column_names == ["calling_code", "code", "country"]
    assert all(t.schema.field(c).type == pa.string() for c in t.column_names)
    assert 240 <= len(t) <= 250
    rows = {r["code"]: r for r in t.to_pylist()}
    assert len(rows) == len(t)
    assert rows["AD"] == {"calling_code": "376", "code": "AD", "country": "Andorra"}
    assert rows["AG"]["calling_code"] == "+1-268"
    assert rows["AG"]["country"] == "Antigua and Barbuda"
    assert rows["AQ"]["calling_code"] is None and rows["AQ"]["country"] == "Antarctica"
    assert rows["CN"]["country"] == "China" and rows["US"]["calling_code"] == "1"


def test_parquet_round_trip(tmp_path, ds: Bookstore):
    paths = ds.write_parquet(tmp_path)
    assert [p.name for p in paths] == [f"bronze-{i:05d}.parquet" for i in range(4)] + [
        "_country_lookup.parquet"]
    batches = read_parquet_batches(tmp_path)
    assert len(batches) == 4
    assert all(a.equals(b) for a, b in zip(batches, ds.bronze))
    assert read_country_lookup(tmp_path).equals(ds.country_lookup)
    again = Bookstore.read_parquet(tmp_path)
    assert again.bronze_table().equals(ds.bronze_table())
    assert (again.customers, again.seed) == (ds.customers, None)
    # rewriting fewer batches leaves no stale files behind
    bookstore(100, batches=2).write_parquet(tmp_path)
    assert len(read_parquet_batches(tmp_path)) == 2


def test_read_parquet_batches_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_parquet_batches(tmp_path)


def test_repr_and_html(ds: Bookstore):
    assert repr(ds) == "Bookstore(events=40000, batches=4, customers=4000, seed=3)"
    html = ds._repr_html_()
    assert "<table>" in html and "40,000" in html and "customers" in html


def test_invalid_arguments():
    with pytest.raises(ValueError):
        bookstore(-1)
    with pytest.raises(ValueError):
        bookstore(10, batches=0)
    with pytest.raises(ValueError):
        bookstore(10, topic_shares=(0, 0, 0))


def test_docstring_examples():
    import doctest

    import cdc_rs.datasets
    from cdc_rs.datasets import _bookstore, _feeds, _layout

    attempted = 0
    for module in (cdc_rs.datasets, _bookstore, _feeds, _layout):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 10
