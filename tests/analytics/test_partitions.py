"""The raw events partitioned by month on PostgreSQL (analytics migration 0009, apps/analytics/partitions.py):
where rows land, how a month's partition is made (rows waiting in the DEFAULT partition move into it), how
retention drops whole months, and the nightly job that makes partitions ahead. SQLite keeps one table."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.db import connection
from django.utils import timezone

from apps.analytics.jobs import events_purge, events_rollup
from apps.analytics.models import AnalyticsEvent, EventDailyCount
from apps.analytics.partitions import (
    COLUMN,
    TABLE,
    event_partitions_ensure,
    event_partitions_list,
    events_partitioned,
)
from apps.analytics.services import events_pseudonymise, events_store
from apps.analytics.tasks import create_partitions
from apps.core.partitions import add_months, month_start, partition_name, table_partition, table_unpartition
from config.schedule import SCHEDULE

INDEXES_0003 = import_module("apps.analytics.migrations.0003_events_postgres_indexes").INDEXES

pytestmark = pytest.mark.django_db

DEFAULT = f"{TABLE}_default"


def _this_month() -> datetime:
    return month_start(timezone.now())


def _partition_of() -> dict[int, str]:
    """Each event's partition, by id."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tableoid::regclass::text FROM {TABLE}")
        return dict(cursor.fetchall())


def _events(at: datetime, count: int = 1, name: str = "bot_started", user_id: int | None = None) -> list[int]:
    created = AnalyticsEvent.objects.bulk_create(
        AnalyticsEvent(event_name=name, occurred_at=at, user_id=user_id) for _ in range(count)
    )
    return [event.pk for event in created]


def _drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{name}"')


def test_postgresql_partitions_the_events_and_sqlite_keeps_one_table():
    assert events_partitioned() == (connection.vendor == "postgresql")
    if connection.vendor != "postgresql":
        assert event_partitions_list() == []
        assert event_partitions_ensure(first=timezone.now(), last=timezone.now()) == []


def test_this_month_and_three_ahead_have_partitions_each_with_the_tables_indexes(require_postgres):
    partitions = event_partitions_list()
    months = [p.start for p in partitions if not p.default]
    assert {add_months(_this_month(), n) for n in range(4)} <= set(months)
    assert [p.name for p in partitions if p.default] == [DEFAULT], "the DEFAULT partition, last"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass", [TABLE])
        parent = [definition.split(" USING ")[1] for (definition,) in cursor.fetchall()]
        assert "btree (id, occurred_at)" in parent, "the primary key"
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])
        names = {name for (name,) in cursor.fetchall()}
        assert {index.name for index in AnalyticsEvent._meta.indexes} | set(INDEXES_0003) <= names
        for partition in partitions:
            cursor.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass", [partition.name]
            )
            assert sorted(d.split(" USING ")[1] for (d,) in cursor.fetchall()) == sorted(parent), partition.name


def test_inserts_land_in_their_months_partition_by_the_orm_and_by_copy(require_postgres):
    now = timezone.now()
    next_month = add_months(_this_month(), 1) + timedelta(days=3)
    long_ago = now - timedelta(days=5 * 365)
    orm = AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=now).pk
    old = AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=long_ago).pk
    stored = events_store(
        [
            {"event_name": "bot_started", "user_id": 7, "session_id": "s", "properties": {}, "occurred_at": at}
            for at in (now.isoformat(), next_month.isoformat(), long_ago.isoformat())
        ]
    )
    assert stored == 3
    where = _partition_of()
    copied = sorted(set(where) - {orm, old})
    assert len(copied) == 3 and min(copied) > old, "COPY numbers rows from the same identity as the ORM"
    assert where[orm] == partition_name(TABLE, _this_month())
    assert where[old] == DEFAULT, "a month without a partition: the DEFAULT one, never an error"
    assert [where[pk] for pk in copied] == [
        partition_name(TABLE, _this_month()),
        partition_name(TABLE, month_start(next_month)),
        DEFAULT,
    ]
    assert AnalyticsEvent.objects.get(pk=orm).occurred_at == now, "Django still reads the row by its id"


def test_a_new_partition_takes_its_months_rows_from_the_default_one_losing_none(require_postgres):
    month = add_months(_this_month(), -14)
    other = add_months(_this_month(), -20)
    moving = _events(month + timedelta(days=2), 40) + _events(add_months(month, 1) - timedelta(microseconds=1))
    staying = _events(other + timedelta(days=1), 5) + _events(add_months(month, 1))
    assert {_partition_of()[pk] for pk in moving + staying} == {DEFAULT}
    total = AnalyticsEvent.objects.count()

    made = event_partitions_ensure(first=month, last=month)

    assert made == [partition_name(TABLE, month)]
    where = _partition_of()
    assert {where[pk] for pk in moving} == {partition_name(TABLE, month)}, "the whole month, to its last instant"
    assert {where[pk] for pk in staying} == {DEFAULT}, "other months stay where they were"
    assert AnalyticsEvent.objects.count() == total, "none lost, none doubled"
    later = AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=month + timedelta(days=9)).pk
    assert _partition_of()[later] == partition_name(TABLE, month)
    assert event_partitions_ensure(first=month, last=month) == [], "made once"


def test_purge_drops_the_months_that_ended_before_the_cutoff_and_keeps_days_not_counted(require_postgres, settings):
    settings.ANALYTICS_RETENTION_DAYS = 30
    first = add_months(_this_month(), -20)
    event_partitions_ensure(first=first, last=add_months(first, 2))
    names = [partition_name(TABLE, add_months(first, n)) for n in range(3)]
    counted_through = add_months(first, 1) + timedelta(days=9)  # the 10th of the second month
    gone = _events(first + timedelta(days=1), 20) + _events(add_months(first, 1) - timedelta(seconds=1))
    second_month = _events(add_months(first, 1) + timedelta(days=2), 3) + _events(counted_through + timedelta(days=5))
    third_month = _events(add_months(first, 2) + timedelta(days=1), 4)
    default_counted = _events(first - timedelta(days=40), 2)  # a month without partition, counted
    default_not_counted = _events(add_months(first, 3) + timedelta(days=1))
    where = _partition_of()
    assert {where[pk] for pk in default_counted + default_not_counted} == {DEFAULT}

    assert events_purge() == 0, "nothing is counted yet: nothing may go"
    EventDailyCount.objects.create(date=counted_through.date(), event_name="bot_started", events=1, users=0)

    assert events_purge() == len(gone) + len(default_counted)

    remaining = set(AnalyticsEvent.objects.values_list("pk", flat=True))
    assert remaining == set(second_month + third_month + default_not_counted), "the DEFAULT's counted days go"
    assert not remaining & set(gone + default_counted)
    listed = {p.name for p in event_partitions_list()}
    assert names[0] not in listed, "a month that ended before the cutoff goes whole"
    assert {names[1], names[2]} <= listed, "a month with days not counted (or not past retention) stays"


def test_purge_after_the_rollup_keeps_the_month_the_cutoff_falls_in(require_postgres, settings):
    settings.ANALYTICS_RETENTION_DAYS = 365
    cutoff = timezone.now() - timedelta(days=365)
    event_partitions_ensure(first=cutoff - timedelta(days=62), last=cutoff)
    ended = _events(month_start(cutoff) - timedelta(days=1), 3)
    same_month_older = _events(max(month_start(cutoff), cutoff - timedelta(days=1)) + timedelta(seconds=1))
    kept = _events(cutoff + timedelta(hours=1), 2)
    assert events_rollup() > 0

    purged = events_purge()

    remaining = set(AnalyticsEvent.objects.values_list("pk", flat=True))
    assert purged == 3 and not remaining & set(ended)
    assert set(kept) <= remaining
    # Kept up to a month past retention: the partition goes whole once its month ended before the cutoff.
    assert set(same_month_older) <= remaining


def test_erasure_moves_a_users_events_in_every_partition(require_postgres):
    now = timezone.now()
    event_partitions_ensure(first=add_months(_this_month(), -2), last=_this_month())
    mine = (
        _events(now, 2, user_id=41)
        + _events(add_months(_this_month(), -2) + timedelta(days=3), 2, user_id=41)
        + _events(now - timedelta(days=900), user_id=41)
    )
    assert len({_partition_of()[pk] for pk in mine}) == 3

    assert events_pseudonymise(user_id=41, pseudonym_id=-41, names=()) == 5

    assert not AnalyticsEvent.objects.filter(user_id=41).exists()
    assert set(AnalyticsEvent.objects.filter(user_id=-41).values_list("pk", flat=True)) == set(mine)


def test_the_nightly_job_is_scheduled_and_makes_the_next_months_partitions():
    job = next(job for job in SCHEDULE if job.task == "apps.analytics.tasks.create_partitions")
    assert job.at is not None and job.summarise(2) == "2 partition(s) created"
    if connection.vendor != "postgresql":
        assert create_partitions.delay().get() == 0, "SQLite: one table, nothing to make"
        return
    ahead = [partition_name(TABLE, add_months(_this_month(), n)) for n in (2, 3)]
    for name in ahead:
        _drop(name)
    assert not set(ahead) & {p.name for p in event_partitions_list()}
    backfilled = add_months(_this_month(), -7)
    waiting = _events(backfilled + timedelta(days=2), 3)
    assert {_partition_of()[pk] for pk in waiting} == {DEFAULT}

    assert create_partitions.delay().get() == 3

    assert set(ahead) <= {p.name for p in event_partitions_list()}
    assert {_partition_of()[pk] for pk in waiting} == {partition_name(TABLE, backfilled)}, "out of the DEFAULT one"
    assert create_partitions.delay().get() == 0, "nothing more to make"


def test_the_migration_makes_the_table_plain_again_and_partitioned_keeping_rows_ids_and_numbering(
    require_postgres,
):
    ids = _events(timezone.now(), 3) + _events(datetime(2019, 5, 17, tzinfo=UTC), 2) + _events(timezone.now())
    AnalyticsEvent.objects.filter(pk=ids[-1]).delete()  # the highest id is not given out again
    rows = set(AnalyticsEvent.objects.values_list("pk", "occurred_at"))

    with connection.schema_editor() as editor:
        table_unpartition(editor, TABLE, COLUMN)
    assert not events_partitioned()
    assert set(AnalyticsEvent.objects.values_list("pk", "occurred_at")) == rows

    with connection.schema_editor() as editor:
        table_partition(editor, TABLE, COLUMN)
    assert events_partitioned()
    assert set(AnalyticsEvent.objects.values_list("pk", "occurred_at")) == rows
    assert partition_name(TABLE, datetime(2019, 5, 1, tzinfo=UTC)) in {p.name for p in event_partitions_list()}
    assert _events(timezone.now())[0] > ids[-1]


def test_the_database_size_page_counts_a_partitioned_table_as_one(require_postgres):
    from apps.analytics.database import table_sizes

    _events(timezone.now(), 30)
    _events(timezone.now() - timedelta(days=900), 20)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    tables = {row["table"]: row for row in table_sizes()}
    assert not [name for name in tables if name.startswith(f"{TABLE}_")], "no partition listed on its own"
    events = tables[TABLE]
    assert events["rows"] == 50
    partitions = [p.name for p in event_partitions_list()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUM(pg_total_relation_size(oid)) FROM pg_class WHERE relname = ANY(%s)", [partitions])
        assert events["bytes"] == cursor.fetchone()[0]
