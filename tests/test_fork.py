"""A process forked after the engine ran can still use it (the parent's worker threads do not
follow a fork). Each case runs in its own interpreter with a time limit, so a regression is a
failed test, not a hung suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

LIMIT_S = 120

PARSE_AFTER_FORK = """
import os
import cdc_rs

def parse(n):
    values = ['{"id": %d, "name": "n%d"}' % (i, i) for i in range(n)]
    return cdc_rs.from_json(values, "id INT, name STRING")

# Big enough to be parsed on all the pool's threads, in the parent and in the child.
assert parse(200_000).field("id")[199_999].as_py() == 199_999
pid = os.fork()
if pid == 0:
    ok = parse(200_000).field("name")[5].as_py() == "n5"
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
print("ok")
"""

UPSERT_IN_A_FORK_POOL = """
import multiprocessing
import cdc_rs
from cdc_rs.datasets import CUSTOMERS_SCHEMA, SILVER_COLUMNS, bookstore

data = bookstore(events=120_000, batches=3, seed=11)

def silver(_=None):
    upsert = cdc_rs.batch_upsert(
        keys=["customer_id"], sequence_by="row_time", value_schema=CUSTOMERS_SCHEMA,
        topic="customers", operation_column="row_status", delete_operations=("delete",),
        lookup=data.country_lookup, lookup_on={"country_code": "code"}, columns=SILVER_COLUMNS)
    upsert.apply_all(data.bronze)
    table = upsert.target.to_arrow().sort_by("customer_id")
    return table.num_rows, table.column("email").to_pylist()

expected = silver()  # the parent's pool is now running
with multiprocessing.get_context("fork").Pool(2) as pool:
    results = pool.map(silver, range(2))
assert results == [expected, expected]
print("ok", expected[0])
"""


@pytest.mark.parametrize("script", [PARSE_AFTER_FORK, UPSERT_IN_A_FORK_POOL],
                         ids=["os.fork", "multiprocessing fork pool"])
def test_the_engine_works_in_a_process_forked_after_it_ran(script):
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                              capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the forked process did not finish in {LIMIT_S} s (waiting on threads "
                    "it does not have?)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
