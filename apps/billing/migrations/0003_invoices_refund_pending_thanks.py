"""Invoices recorded when they are sent (a payment is credited with what its invoice sold), refunds that
wait for Telegram's confirmation, and a thanks mark on payments. Payments recorded before this were thanked
when they were credited, so they are marked thanked: a late redelivery must not thank again."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def mark_thanked(apps, schema_editor):
    Payment = apps.get_model("billing", "Payment")
    Payment.objects.filter(thanked_at__isnull=True).update(thanked_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_plans_packages_schedules'),
        ('users', '0004_telegramuser_staff_account'),
    ]

    operations = [
        migrations.AddField(
            model_name='payment',
            name='refund_attempts',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='payment',
            name='refund_requested_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='payment',
            name='thanked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='payment',
            name='status',
            field=models.CharField(choices=[('paid', 'Paid'), ('refunding', 'Refund pending'), ('refunded', 'Refunded')], default='paid', max_length=10),
        ),
        migrations.CreateModel(
            name='Invoice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=64)),
                ('credits', models.DecimalField(decimal_places=4, max_digits=14)),
                ('stars', models.PositiveIntegerField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('package', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='billing.creditpackage')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='users.telegramuser')),
            ],
        ),
        migrations.AddField(
            model_name='payment',
            name='invoice',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payments', to='billing.invoice'),
        ),
        migrations.RunPython(mark_thanked, migrations.RunPython.noop),
    ]
