"""The ledger rewritten lean (seed 003's 1 GB budget): each operation's model name becomes a small code in
ModelName, the columns are laid out to waste least to alignment, and the user's operations are indexed by
user (deduplicated) and, for the operations the user is shown (not holds and releases), by user and id.

Column order is fixed when a table is created, so the operations are copied into a new table, which then
takes the old one's name. Reversible: the copy back restores the names."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import apps.billing.models

# The same columns, the model as a name in billing_operation and as a code in billing_operationrewrite.
SHARED = (
    "id, user_id, created_at, idempotency_key, llm_request_id, payment_id, staff_id, type, amount, balance_after, "
    "result_url, prompt, reason"
)
FROM_OLD = ", ".join(f"o.{column}" for column in SHARED.split(", "))


def _reset_sequence(connection, table: str) -> None:
    """PostgreSQL: the next id after the copied ones (SQLite's AUTOINCREMENT follows explicit ids itself)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )


def copy_to_codes(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_modelname (name) SELECT DISTINCT model FROM billing_operation WHERE model <> ''"
        )
        cursor.execute(
            f"INSERT INTO billing_operationrewrite ({SHARED}, model_code) SELECT {FROM_OLD}, m.id "
            "FROM billing_operation o LEFT JOIN billing_modelname m ON m.name = o.model ORDER BY o.id"
        )
    _reset_sequence(connection, "billing_operationrewrite")


def copy_to_names(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO billing_operation ({SHARED}, model) SELECT {FROM_OLD}, COALESCE(m.name, '') "
            "FROM billing_operationrewrite o LEFT JOIN billing_modelname m ON m.id = o.model_code ORDER BY o.id"
        )
    _reset_sequence(connection, "billing_operation")


def name_as_operation(apps, schema_editor) -> None:
    """PostgreSQL: the copy's primary key and check take the table's own names."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE billing_operation RENAME CONSTRAINT billing_operationrewrite_pkey TO billing_operation_pkey"
        )
        schema_editor.execute(
            "ALTER TABLE billing_operation RENAME CONSTRAINT billing_operationrewrite_type_check "
            "TO billing_operation_type_check"
        )


def name_as_rewrite(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE billing_operation RENAME CONSTRAINT billing_operation_pkey TO billing_operationrewrite_pkey"
        )
        schema_editor.execute(
            "ALTER TABLE billing_operation RENAME CONSTRAINT billing_operation_type_check "
            "TO billing_operationrewrite_type_check"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_telegram_refunds_reconciliation"),
        ("llm", "0007_request_persona"),
        ("users", "0007_activeuserday"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelName",
            fields=[
                ("id", models.SmallAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=64, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="OperationRewrite",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="users.telegramuser",
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("idempotency_key", models.BigIntegerField(blank=True, editable=False, null=True)),
                (
                    "llm_request",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="llm.llmrequest",
                    ),
                ),
                (
                    "payment",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="billing.payment",
                    ),
                ),
                (
                    "staff",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "type",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (1, "payment"),
                            (2, "generation"),
                            (3, "refund"),
                            (4, "adjustment"),
                            (5, "bonus"),
                            (6, "reserve"),
                            (7, "release"),
                            (8, "expiry"),
                        ]
                    ),
                ),
                ("model", apps.billing.models.ModelNameField(db_column="model_code")),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=4, help_text="signed: + credits the balance, - debits it", max_digits=14
                    ),
                ),
                ("balance_after", models.DecimalField(decimal_places=4, max_digits=14)),
                ("result_url", models.CharField(blank=True, max_length=500)),
                (
                    "prompt",
                    models.TextField(blank=True, help_text="Only with STORE_PROMPTS, at most 1000 characters"),
                ),
                ("reason", models.CharField(blank=True, max_length=200)),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.RunPython(copy_to_codes, copy_to_names),
        migrations.DeleteModel(name="Operation"),
        migrations.RenameModel(old_name="OperationRewrite", new_name="Operation"),
        migrations.RunPython(name_as_operation, name_as_rewrite),
        migrations.AlterField(
            model_name="operation",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="operations",
                to="users.telegramuser",
            ),
        ),
        migrations.AlterField(
            model_name="operation",
            name="payment",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="operations",
                to="billing.payment",
            ),
        ),
        migrations.AddIndex(model_name="operation", index=models.Index(fields=["user"], name="operation_user")),
        migrations.AddIndex(
            model_name="operation",
            index=models.Index(
                condition=models.Q(("type__in", [6, 7]), _negated=True),
                fields=["user", "id"],
                name="operation_user_shown",
            ),
        ),
        migrations.AddConstraint(
            model_name="operation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("idempotency_key__isnull", False)),
                fields=("idempotency_key",),
                name="operation_idempotency_key",
            ),
        ),
    ]
