"""How much of the database budget (DATABASE_BUDGET_BYTES) each table takes."""

from django.conf import settings
from django.db import connection


def table_sizes() -> list[dict]:
    """Bytes and rows per table of this project's database, largest first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A partitioned table's partitions (apps/core/partitions.py) count as the table.
            cursor.execute(
                "SELECT COALESCE(p.relname, c.relname), SUM(pg_total_relation_size(c.oid))::bigint, "
                "SUM(pg_relation_size(c.oid))::bigint, SUM(GREATEST(c.reltuples, 0))::bigint "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid "
                "LEFT JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema() GROUP BY 1"
            )
            rows = [(name, total, table, count) for name, total, table, count in cursor.fetchall()]
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            names = [name for (name,) in cursor.fetchall()]
            sizes = _sqlite_sizes(cursor)
            rows = []
            for name in names:
                cursor.execute(f'SELECT COUNT(*) FROM "{name}"')
                indexes = sum(size for table, size in sizes.items() if table[1] == name and table[0] != name)
                rows.append(
                    (name, sizes.get((name, name), 0) + indexes, sizes.get((name, name), 0), cursor.fetchone()[0])
                )
    tables = [
        {
            "table": name,
            "bytes": total,
            "table_bytes": table,
            "index_bytes": total - table,
            "rows": count,
            "bytes_per_row": total / count if count else None,
        }
        for name, total, table, count in rows
    ]
    return sorted(tables, key=lambda row: row["bytes"], reverse=True)


def _sqlite_sizes(cursor) -> dict[tuple[str, str], int]:
    """(object, its table) → bytes, from SQLite's dbstat table where the build has it."""
    try:
        cursor.execute(
            "SELECT s.name, m.tbl_name, SUM(s.pgsize) FROM dbstat s "
            "JOIN sqlite_master m ON m.name = s.name GROUP BY s.name"
        )
    except Exception:
        return {}
    return {(name, table): size for name, table, size in cursor.fetchall()}


def _usage(used: int) -> dict:
    budget = settings.DATABASE_BUDGET_BYTES
    return {"used": used, "budget": budget, "percent": 100 * used / budget if budget else 0}


def database_usage() -> dict:
    """What `database_budget` says of the whole (used, budget, percent) without counting any table's rows: one
    query, for a page opened often."""
    if connection.vendor == "postgresql":
        return _usage(sum(row["bytes"] for row in table_sizes()))
    with connection.cursor() as cursor:
        sizes = _sqlite_sizes(cursor)
    return _usage(sum(size for (_, table), size in sizes.items() if not table.startswith("sqlite_")))


def database_budget(*, record_table: str | None = None) -> dict:
    """Seed 003's 1 GB budget: what each table takes, what is used, and how many more rows of
    `record_table` (the ledger's, for the admin) it still holds."""
    tables = table_sizes()
    usage = _usage(sum(row["bytes"] for row in tables))
    left = usage["budget"] - usage["used"]
    operations = next((row for row in tables if row["table"] == record_table), None)
    per_operation = operations["bytes_per_row"] if operations and operations["bytes_per_row"] else None
    return {
        "tables": tables,
        **usage,
        "operation_bytes": per_operation,
        "operations_left": int(left / per_operation) if per_operation and left > 0 else None,
    }
