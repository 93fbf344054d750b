"""The activity log partitioned by month of its timestamp on PostgreSQL (users migration 0008, seed 004): rows
land in their month's partition, the archive job still moves busy users' old rows one by one whichever
partition holds them, a user's deletion takes theirs from every partition, the nightly job makes the next
months' partitions. SQLite keeps one table."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.partitions import (
    add_months,
    month_start,
    partition_name,
    partitioned,
    partitions_ensure,
    partitions_list,
    table_partition,
    table_unpartition,
)
from apps.users.jobs import ACTIVITY_COLUMN, ACTIVITY_TABLE, activity_archive, activity_partitions_ahead
from apps.users.models import TelegramUser, UserActivityLog, UserActivityLogArchive

pytestmark = pytest.mark.django_db

DEFAULT = f"{ACTIVITY_TABLE}_default"


def _this_month() -> datetime:
    return month_start(timezone.now())


def _partition_of() -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tableoid::regclass::text FROM {ACTIVITY_TABLE}")
        return dict(cursor.fetchall())


def _activity(user_id: int, at: datetime, count: int = 1) -> list[int]:
    rows = UserActivityLog.objects.bulk_create(
        UserActivityLog(user_id=user_id, activity_type="message", timestamp=at - timedelta(seconds=n))
        for n in range(count)
    )
    return [row.pk for row in rows]


def test_postgresql_partitions_the_activity_log_and_sqlite_keeps_one_table():
    assert partitioned(ACTIVITY_TABLE) == (connection.vendor == "postgresql")
    if connection.vendor != "postgresql":
        assert activity_partitions_ahead() == []


def test_activity_lands_in_its_months_partition_or_the_default_one(require_postgres):
    user = TelegramUser.objects.create(id=501)
    now = UserActivityLog.objects.create(user=user, activity_type="message").pk
    ahead = _activity(user.id, add_months(_this_month(), 2) + timedelta(days=1))
    old = _activity(user.id, timezone.now() - timedelta(days=3 * 365))
    where = _partition_of()
    assert where[now] == partition_name(ACTIVITY_TABLE, _this_month())
    assert where[ahead[0]] == partition_name(ACTIVITY_TABLE, add_months(_this_month(), 2))
    assert where[old[0]] == DEFAULT
    assert [row.pk for row in UserActivityLog.objects.filter(user=user)] == [ahead[0], now, old[0]], "newest first"


def test_archiving_moves_busy_users_old_rows_from_every_partition(require_postgres, settings):
    settings.ACTIVITY_ARCHIVE_DAYS = 90
    busy, quiet = TelegramUser.objects.create(id=511), TelegramUser.objects.create(id=512)
    long_ago = add_months(_this_month(), -8)
    partitions_ensure(ACTIVITY_TABLE, ACTIVITY_COLUMN, first=long_ago, last=long_ago)
    old = _activity(busy.id, long_ago + timedelta(days=3), 8) + _activity(busy.id, long_ago - timedelta(days=90), 4)
    recent = _activity(busy.id, timezone.now(), 3)
    _activity(quiet.id, long_ago + timedelta(days=3), 2)
    where = _partition_of()
    assert {where[pk] for pk in old} == {partition_name(ACTIVITY_TABLE, long_ago), DEFAULT}

    assert activity_archive(busy_user_rows=10, chunk=5) == len(old)

    assert set(UserActivityLog.objects.filter(user=busy).values_list("pk", flat=True)) == set(recent)
    assert UserActivityLogArchive.objects.filter(user=busy).count() == len(old)
    assert UserActivityLog.objects.filter(user=quiet).count() == 2, "a quiet user's rows stay"


def test_a_deleted_user_takes_their_activity_from_every_partition(require_postgres):
    user, other = TelegramUser.objects.create(id=521), TelegramUser.objects.create(id=522)
    partitions_ensure(ACTIVITY_TABLE, ACTIVITY_COLUMN, first=add_months(_this_month(), -1), last=_this_month())
    _activity(user.id, timezone.now(), 2)
    _activity(user.id, add_months(_this_month(), -1) + timedelta(days=1), 2)
    _activity(user.id, timezone.now() - timedelta(days=800))
    kept = _activity(other.id, timezone.now())

    user.delete()

    assert list(UserActivityLog.objects.values_list("pk", flat=True)) == kept


def test_the_nightly_job_makes_the_activity_logs_next_months_and_empties_its_default_partition(require_postgres):
    from apps.analytics.tasks import create_partitions

    user = TelegramUser.objects.create(id=531)
    furthest = partition_name(ACTIVITY_TABLE, add_months(_this_month(), 3))
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{furthest}"')
    waiting = _activity(user.id, add_months(_this_month(), -30) + timedelta(days=4), 3)
    assert {_partition_of()[pk] for pk in waiting} == {DEFAULT}

    assert create_partitions.delay().get() == 2

    names = {p.name for p in partitions_list(ACTIVITY_TABLE)}
    assert {furthest, partition_name(ACTIVITY_TABLE, add_months(_this_month(), -30))} <= names
    assert {_partition_of()[pk] for pk in waiting} == {partition_name(ACTIVITY_TABLE, add_months(_this_month(), -30))}
    assert create_partitions.delay().get() == 0


def test_the_migration_is_reversible_keeping_rows_ids_and_the_foreign_key(require_postgres):
    user = TelegramUser.objects.create(id=541)
    ids = _activity(user.id, timezone.now(), 2) + _activity(user.id, datetime(2020, 2, 29, 12, tzinfo=UTC), 2)
    rows = set(UserActivityLog.objects.values_list("pk", "timestamp", "user_id"))
    with connection.cursor() as cursor:  # the checks of the deferred foreign key, due before its table goes
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    with connection.schema_editor() as editor:
        table_unpartition(editor, ACTIVITY_TABLE, ACTIVITY_COLUMN)
    assert not partitioned(ACTIVITY_TABLE)
    assert set(UserActivityLog.objects.values_list("pk", "timestamp", "user_id")) == rows
    with connection.schema_editor() as editor:
        table_partition(editor, ACTIVITY_TABLE, ACTIVITY_COLUMN)
    assert partitioned(ACTIVITY_TABLE)
    assert set(UserActivityLog.objects.values_list("pk", "timestamp", "user_id")) == rows
    assert partition_name(ACTIVITY_TABLE, datetime(2020, 2, 1, tzinfo=UTC)) in {
        p.name for p in partitions_list(ACTIVITY_TABLE)
    }
    assert _activity(user.id, timezone.now())[0] > max(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [ACTIVITY_TABLE]
        )
        assert cursor.fetchone()[0] == 1, "the foreign key to the user is made again"
