"""A default price plan, three Stars packages and the log purge job; all editable in the admin."""

from decimal import Decimal

from django.db import migrations

JOBS = [
    ("Billing: purge generation and debug logs after LOG_RETENTION_DAYS", "apps.billing.tasks.purge_logs", 86400),
    ("Billing: release holds of answers that never settled", "apps.billing.tasks.release_stale_reserves", 300),
]
PACKAGES = [("Starter", "100", 50), ("Regular", "500", 200), ("Plenty", "1500", 500)]


def seed(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    CreditPackage = apps.get_model("billing", "CreditPackage")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PricePlan.objects.get_or_create(
        model="",
        defaults={"credits_per_1k_prompt": Decimal("0.05"), "credits_per_1k_completion": Decimal("0.2"),
                  "minimum_charge": Decimal("0.01")},
    )
    if not CreditPackage.objects.exists():
        for position, (title, credits, stars) in enumerate(PACKAGES):
            CreditPackage.objects.create(title=title, credits=Decimal(credits), stars=stars, position=position)
    for name, task, seconds in JOBS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
