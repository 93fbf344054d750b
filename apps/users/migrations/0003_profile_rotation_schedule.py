"""Profile rotation runs daily under Celery beat (visible and editable in the admin)."""

from django.db import migrations

NAME = "Users: rotate psychological profiles (daily)"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = IntervalSchedule.objects.get_or_create(every=86400, period="seconds")
    PeriodicTask.objects.update_or_create(name=NAME, defaults={"task": "apps.users.tasks.rotate_profiles",
                                                               "interval": daily})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0002_profilerotationrun"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
