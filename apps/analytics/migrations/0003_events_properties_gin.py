"""PostgreSQL: a GIN index on event properties (jsonb containment and key queries). Nothing on SQLite."""

from django.db import migrations

INDEX = "analytics_event_properties_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON analytics_analyticsevent USING gin (properties jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_userusagesummary_dailyusage")]

    operations = [migrations.RunPython(create, drop)]
