"""PostgreSQL only: the raw events' table becomes partitioned by month of occurred_at (apps/core/partitions.py):
one partition per month that has events and for this month through three months on, a DEFAULT partition for
any other, primary key (id, occurred_at), the model's indexes and 0003's on the parent and so on every
partition. The rows move into it in this migration's transaction. Retention then drops whole months
(apps/analytics/partitions.py). SQLite keeps one table: nothing happens there.

Django's model state does not change (id is still its primary key), so the autodetector sees nothing to do.
"""

from django.db import migrations

from apps.core.partitions import table_partition, table_unpartition

TABLE, COLUMN = "analytics_analyticsevent", "occurred_at"


def partition(apps, schema_editor):
    table_partition(schema_editor, TABLE, COLUMN, ahead=3)


def unpartition(apps, schema_editor):
    table_unpartition(schema_editor, TABLE, COLUMN)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0008_response_time_bucket_user_first_event")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
