"""Monthly range partitions of a PostgreSQL table: for tables that grow with time and go by age (the raw
analytics events, the activity log).

Such a table is `PARTITION BY RANGE (<time column>)`, one partition per calendar month in UTC, named
`<table>_pYYYY_MM`, and `<table>_default`, the DEFAULT partition, which takes a row no month covers, so an
insert never fails. Its primary key is (id, <time column>): PostgreSQL wants the partition key in every
unique index. Django still treats `id` as the primary key; the identity that numbers rows lives on the
parent table, so ORM inserts and COPY into the parent number them as before. Every index declared on the
parent is built on each partition.

On SQLite (and on a PostgreSQL table that is not partitioned) there is one plain table: `partitioned()` says
False and the functions below change nothing.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

DEFAULT_SUFFIX = "_default"
# How long a partition's creation or drop waits for a lock on the table (a long query reading it) before it
# gives up: meanwhile every insert into the table waits behind it. The nightly job tries again the next night.
LOCK_TIMEOUT = "5s"
_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: the DEFAULT partition
    end: datetime | None

    @property
    def default(self) -> bool:
        return self.start is None


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the month `moment` falls in."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return month.replace(year=index // 12, month=index % 12 + 1)


def months(first: datetime, last: datetime) -> Iterator[datetime]:
    """The month starts from `first`'s month through `last`'s, both included."""
    month, last = month_start(first), month_start(last)
    while month <= last:
        yield month
        month = add_months(month, 1)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y_%m}"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def partitioned(table: str) -> bool:
    """Whether `table` is a partitioned table (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [_quote(table)])
        return cursor.fetchone() is not None


def partitions_list(table: str) -> list[Partition]:
    """The partitions of `table`, months in order, the DEFAULT partition last; [] when it is not partitioned."""
    if not partitioned(table):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [_quote(table)],
        )
        rows = cursor.fetchall()
    found = []
    for name, bound in rows:
        match = _BOUNDS.search(bound)
        if match:
            start, end = (datetime.fromisoformat(value).astimezone(UTC) for value in match.groups())
            found.append(Partition(name, start, end))
        else:  # "DEFAULT"
            found.append(Partition(name, None, None))
    return sorted(found, key=lambda p: (p.default, p.start or datetime.min.replace(tzinfo=UTC)))


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        [_quote(table)],
    )
    return [_quote(name) for (name,) in cursor.fetchall()]


def _timestamp(moment: datetime) -> str:
    return f"'{moment.astimezone(UTC).isoformat()}'::timestamptz"


def partitions_ensure(table: str, column: str, *, first: datetime, last: datetime) -> list[str]:
    """A partition for each month from `first`'s through `last`'s that has none. A month whose rows sit in the
    DEFAULT partition (stored before its partition existed) gets them: in one transaction the new month's table
    is made, those rows move into it from the DEFAULT partition and it is attached, so none is lost or seen
    twice. Returns the names of the partitions made."""
    if not partitioned(table):
        return []
    existing = {p.start for p in partitions_list(table) if not p.default}
    default = _quote(table + DEFAULT_SUFFIX)
    made = []
    for month in months(first, last):
        if month in existing:
            continue
        name, end = partition_name(table, month), add_months(month, 1)
        bounds = f"FROM ({_timestamp(month)}) TO ({_timestamp(end)})"
        within = f"{_quote(column)} >= {_timestamp(month)} AND {_quote(column)} < {_timestamp(end)}"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            # No insert may reach the DEFAULT partition between the move and the attach (which checks that
            # it holds no row of the month). Meanwhile queries that read it wait: it should hold few rows.
            cursor.execute(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(
                f"CREATE TABLE {_quote(name)} (LIKE {_quote(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                f"INCLUDING STORAGE INCLUDING COMMENTS)"
            )
            # The attach skips its scan of the new table when a constraint proves its rows belong there.
            cursor.execute(f"ALTER TABLE {_quote(name)} ADD CONSTRAINT {_quote(name + '_month')} CHECK ({within})")
            columns = ", ".join(_columns(cursor, table))
            cursor.execute(
                f"WITH moved AS (DELETE FROM {default} WHERE {within} RETURNING {columns}) "
                f"INSERT INTO {_quote(name)} ({columns}) SELECT {columns} FROM moved"
            )
            cursor.execute(f"ALTER TABLE {_quote(table)} ATTACH PARTITION {_quote(name)} FOR VALUES {bounds}")
            cursor.execute(f"ALTER TABLE {_quote(name)} DROP CONSTRAINT {_quote(name + '_month')}")
        made.append(name)
    return made


def partitions_ahead(table: str, column: str, *, months_ahead: int, now: datetime) -> list[str]:
    """What the nightly job keeps up: a partition for `now`'s month and the next `months_ahead` months, and one
    for every month that has rows waiting in the DEFAULT partition (stored before their month had one: a
    backfill, demo data, a clock far off), which move into it. Returns the names of the partitions made."""
    if not partitioned(table):
        return []
    made = partitions_ensure(table, column, first=now, last=add_months(month_start(now), months_ahead))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', {_quote(column)} AT TIME ZONE 'UTC') "
            f"FROM {_quote(table + DEFAULT_SUFFIX)}"
        )
        waiting = sorted(month.replace(tzinfo=UTC) for (month,) in cursor.fetchall())
    for month in waiting:
        made += partitions_ensure(table, column, first=month, last=month)
    return made


def partitions_drop(table: str, *, before: datetime) -> int:
    """Drops every month partition of `table` whose month ended by `before`, whole: no row-by-row delete, no
    dead rows left for vacuum. Returns how many rows went with them."""
    dropped = 0
    for partition in partitions_list(table):
        if partition.default or partition.end > before:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            # Counted before the drop takes its lock on the table: nobody writes to a month that old.
            cursor.execute(f"SELECT COUNT(*) FROM {_quote(partition.name)}")
            dropped += cursor.fetchone()[0]
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(f"DROP TABLE {_quote(partition.name)}")
    return dropped


def index_definition(definition: str) -> str:
    """An index's definition (pg_indexes.indexdef) as it is made again: on a partitioned table it reads
    "ON ONLY <table>", which would make the parent's index alone, invalid until each partition has one."""
    return definition.replace(" ON ONLY ", " ON ", 1)


def default_delete_before(table: str, column: str, *, before: datetime) -> int:
    """Deletes, row by row, the rows of the DEFAULT partition older than `before`. Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {_quote(table + DEFAULT_SUFFIX)} WHERE {_quote(column)} < %s", [before.astimezone(UTC)]
        )
        return cursor.rowcount


# The conversion, for migrations: run inside the migration's transaction, with its schema editor's connection.


def _rebuild(schema_editor, table: str, column: str, *, partition: bool, ahead: int) -> None:
    """Makes `table` again, partitioned by month on `column` or plain, with the same columns, defaults, checks,
    indexes, foreign keys and id identity, and moves its rows into it: rename the old table, create the new
    one (and its partitions: one for each month that has rows, and this month through `ahead` months on),
    copy the rows, build the primary key and the indexes, drop the old table, carry the id sequence on."""
    execute = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        quoted, old = _quote(table), _quote(f"{table}_old")
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'f', 'u', 'x')",
            [quoted],
        )
        constraints = cursor.fetchall()
        if any(kind in ("u", "x") for _, kind, _ in constraints):
            raise RuntimeError(f"{table} has unique constraints: they would need {column} too")
        primary_key = next(name for name, kind, _ in constraints if kind == "p")
        foreign_keys = [(name, definition) for name, kind, definition in constraints if kind == "f"]
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary ORDER BY i.relname",
            [quoted],
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id'))", [quoted])
        last_id = cursor.fetchone()[0]

        execute(f"ALTER TABLE {quoted} RENAME TO {old}")
        execute(f"ALTER TABLE {old} RENAME CONSTRAINT {_quote(primary_key)} TO {_quote(table + '_old_pkey')}")
        for name, _ in indexes:  # their names are the new table's
            execute(f"DROP INDEX {_quote(name)}")
        execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        like = f"(LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
        execute(f"CREATE TABLE {quoted} {like}" + (f" PARTITION BY RANGE ({_quote(column)})" if partition else ""))
        execute(f"ALTER TABLE {quoted} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        if partition:
            cursor.execute(f"SELECT DISTINCT date_trunc('month', {_quote(column)} AT TIME ZONE 'UTC') FROM {old}")
            now = datetime.now(UTC)
            wanted = {month.replace(tzinfo=UTC) for (month,) in cursor.fetchall()}
            wanted |= set(months(now, add_months(now, ahead)))
            execute(f"CREATE TABLE {_quote(table + DEFAULT_SUFFIX)} PARTITION OF {quoted} DEFAULT")
            for month in sorted(wanted):
                execute(
                    f"CREATE TABLE {_quote(partition_name(table, month))} PARTITION OF {quoted} "
                    f"FOR VALUES FROM ({_timestamp(month)}) TO ({_timestamp(add_months(month, 1))})"
                )
        columns = ", ".join(_columns(cursor, f"{table}_old"))
        execute(f"INSERT INTO {quoted} ({columns}) SELECT {columns} FROM {old}")
        key = f"id, {_quote(column)}" if partition else "id"
        execute(f"ALTER TABLE {quoted} ADD CONSTRAINT {_quote(primary_key)} PRIMARY KEY ({key})")
        for _, definition in indexes:  # "CREATE INDEX name ON [ONLY] public.<table> ...": the new table now
            execute(index_definition(definition))
        for name, definition in foreign_keys:
            execute(f"ALTER TABLE {quoted} ADD CONSTRAINT {_quote(name)} {definition}")
        execute(f"DROP TABLE {old}")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(COALESCE(MAX(id), 0), %s, 1), "
            f"GREATEST(COALESCE(MAX(id), 0), %s) > 0) FROM {quoted}",
            [quoted, last_id or 0, last_id or 0],
        )
        execute(f"ANALYZE {quoted}")


def table_partition(schema_editor, table: str, column: str, *, ahead: int = 3) -> None:
    """Migration step: `table` becomes partitioned by month on `column` (PostgreSQL; nothing elsewhere)."""
    if schema_editor.connection.vendor == "postgresql" and not partitioned(table):
        _rebuild(schema_editor, table, column, partition=True, ahead=ahead)


def table_unpartition(schema_editor, table: str, column: str) -> None:
    """Its reverse: one plain table again, primary key (id)."""
    if schema_editor.connection.vendor == "postgresql" and partitioned(table):
        _rebuild(schema_editor, table, column, partition=False, ahead=0)
