"""PostgreSQL-only indexes for the analytics queries (nothing on SQLite):

- GIN on properties: jsonb containment and key lookups;
- the funnel reads (event_name, occurred_at, user_id) of each step's rows: covered, no heap visits;
- response times read occurred_at and duration of ai_response_time rows: a partial covering index.
"""

from django.db import migrations

INDEXES = {
    "analytics_event_properties_gin": "ON analytics_analyticsevent USING gin (properties jsonb_path_ops)",
    "analytics_event_funnel": "ON analytics_analyticsevent (event_name, occurred_at) INCLUDE (user_id)",
    "analytics_event_response_times": (
        "ON analytics_analyticsevent (occurred_at) INCLUDE (properties) WHERE event_name = 'ai_response_time'"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_userusagesummary_dailyusage")]

    operations = [migrations.RunPython(create, drop)]
