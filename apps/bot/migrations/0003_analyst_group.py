"""The "Analyst" group: exactly the view permissions the API asks for (each API view's `reads`)."""

from django.db import migrations

ANALYST_READS = [
    "analytics.view_analyticsevent",
    "billing.view_balance",
    "billing.view_operation",
    "billing.view_payment",
    "llm.view_dailyusage",
    "llm.view_llmrequest",
    "llm.view_userusagesummary",
    "users.view_telegramuser",
    "users.view_useractivitylog",
]


def create_analyst_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after the last migration; the group needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Analyst")
    for label in ANALYST_READS:
        app_label, codename = label.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_analyst_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Analyst").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bot", "0002_schedules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("analytics", "0007_usage_rollups_move_to_llm"),
        ("billing", "0002_plans_packages_schedules"),
        ("llm", "0003_usage_rollups_from_analytics"),
        ("users", "0004_telegramuser_staff_account"),
    ]

    operations = [migrations.RunPython(create_analyst_group, remove_analyst_group)]
