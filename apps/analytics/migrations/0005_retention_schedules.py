"""The retention and housekeeping jobs, scheduled in Celery beat (visible and editable in the admin)."""

from django.db import migrations

JOBS = [
    # (name, task, every seconds)
    ("Users: archive old activity of busy users (weekly)", "apps.users.tasks.archive_activity", 7 * 86400),
    ("Analytics: purge raw events after ANALYTICS_RETENTION_DAYS", "apps.analytics.tasks.purge_events", 86400),
    ("Sessions: forget completed conversations' turns after the retention window",
     "apps.sessions.tasks.purge_session_histories", 86400),
    ("Database: daily size snapshot", "apps.analytics.tasks.snapshot_database_size", 86400),
]


def create_jobs(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval})


def remove_jobs(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[j[0] for j in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_databasesizesnapshot"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_jobs, remove_jobs)]
