"""Price plans charge a markup over each model's own provider cost by default. The plan 0002 seeded for every
model charged fixed rates per token (0.05 and 0.2 credits per 1K), which priced gpt-4o at gpt-4o-mini's rates
and below its cost: where staff left it as seeded it is removed, so BILLING_DEFAULT_MARKUP applies. A plan with
a markup drops the per-token rates it ignored; a plan's empty minimum now means BILLING_MINIMUM_CHARGE."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models

SEEDED = {"credits_per_1k_prompt": Decimal("0.05"), "credits_per_1k_completion": Decimal("0.2"),
          "minimum_charge": Decimal("0.01"), "markup": None}  # fmt: skip


def markup_by_default(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    PricePlan.objects.filter(model="", **SEEDED).delete()
    PricePlan.objects.filter(markup__isnull=False).update(credits_per_1k_prompt=None, credits_per_1k_completion=None)


def fixed_rates_again(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    PricePlan.objects.filter(credits_per_1k_prompt__isnull=True).update(credits_per_1k_prompt=0)
    PricePlan.objects.filter(credits_per_1k_completion__isnull=True).update(credits_per_1k_completion=0)
    PricePlan.objects.filter(minimum_charge__isnull=True).update(minimum_charge=0)
    PricePlan.objects.get_or_create(model="", defaults=SEEDED)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_invoices_refund_pending_thanks'),
    ]

    operations = [
        migrations.AlterField(
            model_name='priceplan',
            name='credits_per_1k_completion',
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))]),
        ),
        migrations.AlterField(
            model_name='priceplan',
            name='credits_per_1k_prompt',
            field=models.DecimalField(blank=True, decimal_places=4, help_text='Set with the completion rate: fixed credits per 1K tokens instead of a markup over cost', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))]),
        ),
        migrations.AlterField(
            model_name='priceplan',
            name='markup',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='Provider cost × this, in credits. Empty: BILLING_DEFAULT_MARKUP', max_digits=8, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))]),
        ),
        migrations.AlterField(
            model_name='priceplan',
            name='minimum_charge',
            field=models.DecimalField(blank=True, decimal_places=4, help_text='The least an answer costs. Empty: BILLING_MINIMUM_CHARGE', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))]),
        ),
        migrations.AlterField(
            model_name='priceplan',
            name='model',
            field=models.CharField(blank=True, help_text='Empty: every model without a plan of its own', max_length=64, unique=True),
        ),
        migrations.RunPython(markup_by_default, fixed_rates_again),
        migrations.AddConstraint(
            model_name='priceplan',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('credits_per_1k_completion__isnull', True), ('credits_per_1k_prompt__isnull', True)), models.Q(('credits_per_1k_completion__isnull', False), ('credits_per_1k_prompt__isnull', False), ('markup__isnull', True)), _connector='OR'), name='price_plan_markup_or_both_rates', violation_error_message='Set a markup, or both per-1K rates (then no markup), not a mix.'),
        ),
    ]
