"""Once created the retention and housekeeping jobs in Celery beat. The schedule now lives in
config/schedule.py and is synced after every `migrate`; this migration is kept, empty, because databases
have it recorded as applied. Do not add jobs here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_databasesizesnapshot"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
