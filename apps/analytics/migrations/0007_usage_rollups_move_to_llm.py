"""DailyUsage and UserUsageSummary now belong to llm (metering); their tables stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0006_eventdailycount"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="DailyUsage"),
                migrations.DeleteModel(name="UserUsageSummary"),
            ],
            database_operations=[],
        ),
    ]
