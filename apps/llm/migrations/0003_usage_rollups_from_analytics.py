"""DailyUsage and UserUsageSummary move here from analytics: the same tables, now this app's models."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("llm", "0002_seed_prices_and_persona"),
        ("users", "0001_initial"),
        ("analytics", "0007_usage_rollups_move_to_llm"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UserUsageSummary",
                    fields=[
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="usage",
                                serialize=False,
                                to="users.telegramuser",
                            ),
                        ),
                        ("total_requests", models.PositiveIntegerField(default=0)),
                        ("total_errors", models.PositiveIntegerField(default=0)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("total_tokens", models.BigIntegerField(default=0)),
                        ("total_cost", models.DecimalField(decimal_places=8, default=0, max_digits=16)),
                        ("total_latency_ms", models.BigIntegerField(default=0)),
                        ("last_activity", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "analytics_userusagesummary",
                        "verbose_name_plural": "user usage summaries",
                    },
                ),
                migrations.CreateModel(
                    name="DailyUsage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("date", models.DateField()),
                        ("requests", models.PositiveIntegerField(default=0)),
                        ("errors", models.PositiveIntegerField(default=0)),
                        ("prompt_tokens", models.BigIntegerField(default=0)),
                        ("completion_tokens", models.BigIntegerField(default=0)),
                        ("total_tokens", models.BigIntegerField(default=0)),
                        ("cost", models.DecimalField(decimal_places=8, default=0, max_digits=16)),
                        ("providers", models.JSONField(blank=True, default=dict, help_text="requests per provider")),
                        ("models", models.JSONField(blank=True, default=dict, help_text="requests per model")),
                        (
                            "user",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="daily_usage",
                                to="users.telegramuser",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analytics_dailyusage",
                        "verbose_name_plural": "daily usage",
                        "ordering": ["-date"],
                        "indexes": [models.Index(fields=["date"], name="daily_usage_date")],
                        "constraints": [models.UniqueConstraint(fields=("user", "date"), name="daily_usage_user_date")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
