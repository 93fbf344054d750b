"""Batched INSERT … ON CONFLICT with the same SQL on SQLite and PostgreSQL (the rollups kept at ingest)."""

import json
from collections.abc import Sequence
from datetime import date

from django.db import connection

_ROWS_PER_STATEMENT = 2000  # SQLite's VALUES lists


def upsert(sql_head: str, sql_tail: str, rows: list[tuple], types: Sequence[str], *, only: str = "") -> None:
    """`sql_head` (INSERT INTO t (a, b, …)) of the rows, then `sql_tail` (ON CONFLICT …): on PostgreSQL one
    statement whose rows arrive as one JSON parameter (jsonb_to_recordset, typed by `types`: short query text, no
    per-value quoting in Python, whatever the batch); elsewhere VALUES (…), (…) in statements of at most
    _ROWS_PER_STATEMENT rows. Rows are sorted, so concurrent batches lock shared rows in the same order. `only`:
    what follows FROM … AS r(c0, c1, …) on PostgreSQL, to leave out rows that would change nothing (ON CONFLICT
    DO UPDATE locks the row it meets even when its WHERE is false)."""
    rows = sorted(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(f"c{number} {kind}" for number, kind in enumerate(types))
            keys = [f"c{number}" for number in range(len(types))]
            cursor.execute(
                f"{sql_head} SELECT r.* FROM jsonb_to_recordset(%s::jsonb) AS r({columns}) {only} {sql_tail}",
                [json.dumps([dict(zip(keys, row, strict=True)) for row in rows], default=_iso)],
            )
            return
        placeholders = "(" + ", ".join(["%s"] * len(types)) + ")"
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            values = ", ".join([placeholders] * len(chunk))
            cursor.execute(f"{sql_head} VALUES {values} {sql_tail}", [value for row in chunk for value in row])


def _iso(value: object) -> str:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
