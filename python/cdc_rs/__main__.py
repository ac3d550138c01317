"""``python -m cdc_rs``: the ``cdc-rs`` command line (see :mod:`cdc_rs.cli`)."""

from cdc_rs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
