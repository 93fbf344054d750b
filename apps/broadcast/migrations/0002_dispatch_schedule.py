"""Once created the broadcast dispatcher's job in Celery beat. The schedule now lives in config/schedule.py
and is synced after every `migrate`; this migration is kept, empty, because databases have it recorded as
applied. Do not add jobs here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("broadcast", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
