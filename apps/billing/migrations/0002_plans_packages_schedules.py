"""Three Stars packages, editable in the admin. This migration once also created a price plan for every model
(fixed per-token rates, below gpt-4o's cost: 0004 removes it; models are charged a markup over their own cost
by default) and billing's beat jobs, which now live in config/schedule.py (synced after every `migrate`). Do
not add jobs here."""

from decimal import Decimal

from django.db import migrations

PACKAGES = [("Starter", "100", 50), ("Regular", "500", 200), ("Plenty", "1500", 500)]


def seed(apps, schema_editor):
    CreditPackage = apps.get_model("billing", "CreditPackage")
    if not CreditPackage.objects.exists():
        for position, (title, credits, stars) in enumerate(PACKAGES):
            CreditPackage.objects.create(title=title, credits=Decimal(credits), stars=stars, position=position)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
