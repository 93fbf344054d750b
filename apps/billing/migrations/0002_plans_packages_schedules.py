"""A default price plan and three Stars packages, editable in the admin. This migration once also created
billing's beat jobs; they now live in config/schedule.py (synced after every `migrate`). Do not add jobs here."""

from decimal import Decimal

from django.db import migrations

PACKAGES = [("Starter", "100", 50), ("Regular", "500", 200), ("Plenty", "1500", 500)]


def seed(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    CreditPackage = apps.get_model("billing", "CreditPackage")
    PricePlan.objects.get_or_create(
        model="",
        defaults={"credits_per_1k_prompt": Decimal("0.05"), "credits_per_1k_completion": Decimal("0.2"),
                  "minimum_charge": Decimal("0.01")},
    )
    if not CreditPackage.objects.exists():
        for position, (title, credits, stars) in enumerate(PACKAGES):
            CreditPackage.objects.create(title=title, credits=Decimal(credits), stars=stars, position=position)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
