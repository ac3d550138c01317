"""Random event streams, split into random batches, against the reference model.

Streams use a small key space and a small sequence space, so ties, late events, duplicates,
deletes, null keys and sequences and unknown operations are common. For every stream:

* the engine's per-batch counters and rejected reasons equal the incremental model's (with
  or without `where=` and `apply_as_deletes=` predicates over the events);
* the final table equals the closed form, whatever the split (one event per batch, all in one);
* re-sending any earlier batch with its old id changes nothing.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import cdc_rs
import pyarrow as pa
import pytest
from conftest import FRAMES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import COUNTERS, Config, ReferenceUpsert, closed_form, keyed, plain, project
from reference_predicates import evaluate, sql

# generated batches may hold only other topics: the topic warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:none of the batch's:UserWarning")

# CDC_EXAMPLES=5000 for a long run; the default keeps the suite quick.
SETTINGS = settings(max_examples=int(os.environ.get("CDC_EXAMPLES", "300")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASE = datetime(2022, 1, 31, tzinfo=timezone.utc)
ZONES = ["UTC", "Asia/Tokyo", "America/New_York"]
OFFSETS = [timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]
MALFORMED = ["{bad", "[1, 2]", "42", '"text"', "nul"]  # blank texts: see test_report
LOOKUP = [{"code": "FR", "country": "France"}, {"code": "CN", "country": "China"}]
# where= and apply_as_deletes= (reference_predicates trees); NULLs in `cc` and `op` are common
WHERE = [None, None, ("cmp", "<>", ("col", "cc"), ("str", "ZZ")),
         ("or", (("cmp", "<>", ("col", "CC"), ("str", "ZZ")), ("isnull", ("col", "cc"), False))),
         ("in", ("col", "k1"), (("str", "k0"), ("str", "k1")), True)]
DELETES_WHEN = [None, None, ("in", ("col", "op"), (("str", "delete"), ("str", "merge")), False),
                ("cmp", "=", ("col", "cc"), ("str", "ZZ"))]


@dataclass(frozen=True)
class Scenario:
    composite_key: bool
    sequence: str  # "int" | "timestamp" | "pair"
    zone: str
    with_operations: bool
    with_deletes: bool
    lookup_how: str | None
    bronze: bool
    topic_filter: bool
    selection: str = "all"  # "all" | "columns" | "except": neither keeps a sequence column
    where: tuple | None = None
    apply_as_deletes: tuple | None = None

    @property
    def keys(self):
        return ["k1", "k2"] if self.composite_key else ["k1"]

    @property
    def sequence_by(self):
        return ["s1", "s2"] if self.sequence == "pair" else ["s1"]

    def fields(self):
        """(name, arrow type, DDL type) of the event columns."""
        s1 = (pa.timestamp("us", tz=self.zone), "TIMESTAMP") if self.sequence == "timestamp" \
            else (pa.int64(), "BIGINT")
        out = [("k1", pa.string(), "STRING")]
        if self.composite_key:
            out.append(("k2", pa.int64(), "BIGINT"))
        out.append(("s1", *s1))
        if self.sequence == "pair":
            out.append(("s2", pa.int64(), "BIGINT"))
        out += [("op", pa.string(), "STRING"), ("p", pa.string(), "STRING"),
                ("cc", pa.string(), "STRING")]
        return out

    def config(self) -> Config:
        return Config(
            keys=self.keys,
            sequence_by=self.sequence_by,
            operation_column="op" if self.with_operations else None,
            delete_operations=("delete",) if self.with_deletes else (),
            topic="customers" if self.topic_filter else None,
            value_fields=[(n, ddl) for n, _, ddl in self.fields()] if self.bronze else None,
            time_zone=self.zone,
            lookup=LOOKUP if self.lookup_how else None,
            lookup_on={"cc": "code"} if self.lookup_how else None,
            lookup_how=self.lookup_how or "inner",
            where=None if self.where is None else lambda e: evaluate(self.where, e),
            apply_as_deletes=None if self.apply_as_deletes is None
            else lambda e: evaluate(self.apply_as_deletes, e),
        )

    def upsert(self):
        options = dict(keys=self.keys, sequence_by=self.sequence_by)
        if self.with_operations:
            options["operation_column"] = "op"
        if self.with_deletes:
            options["delete_operations"] = ("delete",)
        if self.where is not None:
            options["where"] = sql(self.where)
        if self.apply_as_deletes is not None:
            options["apply_as_deletes"] = sql(self.apply_as_deletes)
        if self.lookup_how:
            options.update(lookup=pa.Table.from_pylist(LOOKUP), lookup_on={"cc": "code"},
                           lookup_how=self.lookup_how)
        if self.bronze:
            options["value_schema"] = ", ".join(f"{n} {ddl}" for n, _, ddl in self.fields())
            options["time_zone"] = self.zone
            if self.topic_filter:
                options["topic"] = "customers"
        if self.selection == "columns":
            options["columns"] = self.columns()
        elif self.selection == "except":
            options["except_column_list"] = [*self.sequence_by, "op"]
        return cdc_rs.batch_upsert(cdc_rs.MemoryTable(), **options)

    def table(self, rows: list[dict]) -> pa.Table:
        if self.bronze:
            return pa.table({"topic": pa.array([r["topic"] for r in rows], pa.string()),
                             "value": pa.array([r["value"] for r in rows], pa.string())})
        schema = pa.schema([(n, t) for n, t, _ in self.fields()])
        return pa.Table.from_pylist(rows, schema=schema)

    def columns(self):
        """The target columns the model pins (the lookup's join column may or may not be kept)."""
        every = [n for n, _, _ in self.fields()] + (["country"] if self.lookup_how else [])
        if self.selection == "columns":
            return [*self.keys, "p"] + (["country"] if self.lookup_how else [])
        if self.selection == "except":
            return [n for n in every if n not in (*self.sequence_by, "op")]
        return every


@st.composite
def scenarios(draw):
    with_operations = draw(st.booleans())
    with_deletes = with_operations and draw(st.booleans())
    bronze = draw(st.booleans())
    return Scenario(
        composite_key=draw(st.booleans()),
        sequence=draw(st.sampled_from(["int", "timestamp", "pair"])),
        zone=draw(st.sampled_from(ZONES)),
        with_operations=with_operations,
        with_deletes=with_deletes,
        lookup_how=draw(st.sampled_from([None, "inner", "left"])),
        bronze=bronze,
        topic_filter=bronze and draw(st.booleans()),
        selection=draw(st.sampled_from(["all", "all", "columns", "except"])),
        where=draw(st.sampled_from(WHERE)),
        # the long form of delete_operations: one or the other
        apply_as_deletes=None if with_deletes else draw(st.sampled_from(DELETES_WHEN)),
    )


# Texts a JSON string scanner can get wrong: escapes, multi-byte UTF-8, long runs, structure.
PAYLOADS = ["", "", ' "quoted" ', "back\\slash\\", "new\nline\ttab", "é", "日本語", "😀",
            "x" * 40, "{not: [an], object}", "\u2028", "\x00", "/"]


def json_text(event: dict, choose, zone: str) -> str:
    """The event as JSON; a timestamp with some offset, or without one (local to `zone`)."""
    out = {}
    for name, value in event.items():
        if isinstance(value, datetime):
            offset = choose([*OFFSETS, None])
            if offset is None:
                value = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat()
            else:
                value = value.astimezone(offset).isoformat()
                value = value.replace("+00:00", choose(["Z", "+00:00"]))
        out[name] = value
    return json.dumps(out, ensure_ascii=choose([True, False]))


def make_rows(scenario: Scenario, n: int, choose, n_keys: int = 3, n_sequences: int = 4):
    """n input rows; `choose(options)` picks one option (a hypothesis draw or a seeded random)."""
    keys = [f"k{i}" for i in range(n_keys) for _ in range(2)] + [None]
    sequences = list(range(n_sequences)) + [None]
    rows: list[dict] = []
    for i in range(n):
        if rows and choose(range(8)) == 0:
            rows.append(dict(choose(rows)))  # an exact duplicate row
            continue
        event = {"k1": choose(keys)}
        if scenario.composite_key:
            event["k2"] = choose([1, 1, 2, None])
        event["s1"] = choose(sequences)
        if scenario.sequence == "timestamp" and event["s1"] is not None:
            micros = choose([0, 0, 0, 1, 123_456])
            event["s1"] = BASE + timedelta(minutes=event["s1"], microseconds=micros)
        if scenario.sequence == "pair":
            event["s2"] = choose([0, 1, 1, None])
        event["op"] = choose(["insert", "update", "update", "delete", "delete", "merge", None])
        event["p"] = f"e{i}" + choose(PAYLOADS)
        event["cc"] = choose(["FR", "CN", "ZZ", None])
        if scenario.bronze:
            value = json_text(event, choose, scenario.zone)
            if choose(range(10)) == 0:
                value = choose(MALFORMED)
            rows.append({"topic": choose(["customers"] * 5 + ["orders", None]), "value": value})
        else:
            rows.append(event)
    return rows


@st.composite
def streams(draw, max_events=30):
    """A scenario and its stream of input rows (bronze rows when the scenario is bronze)."""
    scenario = draw(scenarios())
    n = draw(st.integers(0, max_events))
    return scenario, make_rows(scenario, n, lambda options: draw(st.sampled_from(options)))


@st.composite
def splits(draw, n):
    """Cut points splitting n rows into consecutive batches (empty batches allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=max(n, 1))))
    return [0, *cuts, n]


def batches_of(rows, cuts):
    return [rows[a:b] for a, b in zip(cuts, cuts[1:])]


def rejected_rows(rows) -> Counter:
    """Rejected rows as a multiset (their order is not part of the contract)."""
    return Counter(tuple(sorted((k, plain(v)) for k, v in row.items())) for row in rows)


def state(upsert, scenario) -> dict:
    table = upsert.target.to_arrow()
    if scenario.selection != "all" and table.num_columns:
        # the lookup's join column `code` is left open unless `columns` names the columns
        extra = {"code"} if scenario.selection == "except" else set()
        assert set(table.column_names) - extra == set(scenario.columns())
    return project(keyed(table.to_pylist(), scenario.keys), scenario.columns())


def expected_state(scenario, rows) -> dict:
    return project(closed_form(scenario.config(), rows), scenario.columns())


def run(scenario, batches, first_id=0):
    upsert = scenario.upsert()
    for batch_id, batch in enumerate(batches, start=first_id):
        upsert(scenario.table(batch), batch_id)
    return state(upsert, scenario)


@SETTINGS
@given(data=st.data(), stream=streams())
def test_per_batch_counters_and_the_final_table_follow_the_reference(data, stream):
    scenario, rows = stream
    batches = batches_of(rows, data.draw(splits(len(rows))))
    upsert, model = scenario.upsert(), ReferenceUpsert(scenario.config())
    batch_id = data.draw(st.integers(0, 3))
    for batch in batches:
        # Several record batches (some empty) in one micro-batch: arrival order spans them.
        table = scenario.table(batch)
        cuts = data.draw(splits(len(batch)))
        table = pa.concat_tables([table.slice(a, b - a) for a, b in zip(cuts, cuts[1:])])
        # ...or the same rows as a pandas or polars frame (pandas turns ints with nulls to floats)
        report = upsert(FRAMES[data.draw(st.sampled_from(["pyarrow"] * 2 + sorted(FRAMES)))](table),
                        batch_id)
        expected = model.apply(batch, batch_id)
        got = {name: getattr(report, name) for name in (*COUNTERS, "rows_in", "skipped_replay")}
        assert got == {name: expected[name] for name in got}
        assert sum(got[name] for name in COUNTERS) == len(batch)
        assert rejected_rows(report.rejected.to_pylist()) == rejected_rows(
            {**row, "reason": reason} for row, reason in expected["rejected"])
        batch_id += data.draw(st.integers(1, 3))
    assert state(upsert, scenario) == project(model.table(), scenario.columns())
    assert state(upsert, scenario) == expected_state(scenario, rows)


@SETTINGS
@given(data=st.data(), stream=streams())
def test_every_split_of_a_stream_gives_the_same_table(data, stream):
    scenario, rows = stream
    expected = expected_state(scenario, rows)
    assert run(scenario, [rows]) == expected
    assert run(scenario, [[row] for row in rows], first_id=5) == expected
    assert run(scenario, batches_of(rows, data.draw(splits(len(rows))))) == expected


@SETTINGS
@given(data=st.data(), stream=streams())
def test_resending_an_earlier_batch_with_its_old_id_changes_nothing(data, stream):
    scenario, rows = stream
    batches = batches_of(rows, data.draw(splits(len(rows))))
    upsert = scenario.upsert()
    sent = []
    for batch_id, batch in enumerate(batches):
        upsert(scenario.table(batch), batch_id)
        sent.append((batch_id, batch))
        for _ in range(data.draw(st.integers(0, 2))):
            old_id, old = data.draw(st.sampled_from(sent))
            before = state(upsert, scenario)
            report = upsert(scenario.table(old), old_id)
            assert report.skipped_replay is True
            assert state(upsert, scenario) == before
    assert state(upsert, scenario) == expected_state(scenario, rows)


@settings(SETTINGS, max_examples=min(SETTINGS.max_examples, 10))
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_large_streams_follow_the_reference(scenario, seed):
    # Thousands of rows per batch, in many record batches: the sizes where a kernel goes parallel.
    rng = random.Random(seed)
    # Enough keys and batches that thousands of rows are overwritten or deleted in the target.
    rows = make_rows(scenario, 40_000, rng.choice, n_keys=rng.choice([30, 3000]), n_sequences=50)
    cuts = sorted(rng.sample(range(len(rows)), 7))
    upsert, model = scenario.upsert(), ReferenceUpsert(scenario.config())
    for batch_id, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(rows)])):
        batch = rows[a:b]
        table = scenario.table(batch)
        table = pa.Table.from_batches(table.to_batches(max_chunksize=rng.randint(1000, 30_000)))
        report = upsert(table, batch_id)
        expected = model.apply(batch, batch_id)
        assert {n: getattr(report, n) for n in COUNTERS} == {n: expected[n] for n in COUNTERS}
    assert state(upsert, scenario) == expected_state(scenario, rows)


@settings(SETTINGS, max_examples=min(SETTINGS.max_examples, 3))
@given(seed=st.integers(0, 2**32 - 1), sequence=st.sampled_from(["int", "timestamp", "pair"]))
def test_a_bronze_batch_big_enough_to_decode_in_parallel_follows_the_reference(seed, sequence):
    scenario = Scenario(composite_key=True, sequence=sequence, zone="UTC", with_operations=True,
                        with_deletes=True, lookup_how="left", bronze=True, topic_filter=True)
    rng = random.Random(seed)
    rows = make_rows(scenario, 150_000, rng.choice, n_keys=2000, n_sequences=20)
    upsert, model = scenario.upsert(), ReferenceUpsert(scenario.config())
    report, expected = upsert(scenario.table(rows), 0), model.apply(rows, 0)
    assert {n: getattr(report, n) for n in COUNTERS} == {n: expected[n] for n in COUNTERS}
    assert state(upsert, scenario) == project(model.table(), scenario.columns())
