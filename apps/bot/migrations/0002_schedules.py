"""The bot's periodic jobs, created here so that the beat schedule exists after `migrate`."""

from django.db import migrations

JOBS = [
    # (name, task, every seconds)
    ("Inbox: enqueue unprocessed updates", "apps.bot.tasks.sweep_inbox", 60),
    ("Inbox: forget processed updates after 7 days", "apps.bot.tasks.purge_processed_updates", 24 * 60 * 60),
]


def create_jobs(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval})


def remove_jobs(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bot", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_jobs, remove_jobs)]
