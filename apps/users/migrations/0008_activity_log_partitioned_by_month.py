"""PostgreSQL only: the activity log becomes partitioned by month of its timestamp (apps/core/partitions.py),
as seed 004 asks: one partition per month that has rows and for this month through three months on, a DEFAULT
partition for any other, primary key (id, timestamp), its index and its foreign key to the user on the parent
and so on every partition. The rows move into it in this migration's transaction; the nightly job
(apps.analytics.tasks.create_partitions) makes the next months'. SQLite keeps one table: nothing happens there.

Django's model state does not change (id is still its primary key), so the autodetector sees nothing to do.
"""

from django.db import migrations

from apps.core.partitions import table_partition, table_unpartition

TABLE, COLUMN = "users_useractivitylog", "timestamp"


def partition(apps, schema_editor):
    table_partition(schema_editor, TABLE, COLUMN, ahead=3)


def unpartition(apps, schema_editor):
    table_unpartition(schema_editor, TABLE, COLUMN)


class Migration(migrations.Migration):
    dependencies = [("users", "0007_activeuserday")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
