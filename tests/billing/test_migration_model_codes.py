"""Migration 0008 copies the ledger into its lean layout (model names become codes) and back, losing nothing."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.billing.models import MODEL_CODES, ModelName, Operation

BEFORE = [("billing", "0007_telegram_refunds_reconciliation")]
AFTER = [("billing", "0008_operation_model_codes")]
COLUMNS = ["id", "user_id", "type", "amount", "balance_after", "idempotency_key", "reason", "prompt", "result_url"]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    # The migrate command's post_migrate forgets the codes known; the executor alone does not send it.
    MODEL_CODES.forget()
    return executor.loader.project_state(targets).apps


def _rows(table: str, model_column: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(COLUMNS)}, {model_column} FROM {table} ORDER BY id")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_the_ledger_is_copied_to_codes_and_back():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE)
        old.get_model("users", "TelegramUser").objects.create(id=1401, username="migrated")
        written = [
            (5, "10", "", "trial credit", 11),
            (6, "-0.5", "", "", None),
            (7, "0.5", "", "", 12),
            (2, "-0.2", "gpt-4o-mini", "", 13),
            (2, "-0.3", "whisper-1", "", 14),
            (2, "-0.1", "gpt-4o-mini", "", 15),
        ]
        balance = Decimal(0)
        for type_, amount, model, reason, key in written:
            balance += Decimal(amount)
            old.get_model("billing", "Operation").objects.create(
                user_id=1401,
                type=type_,
                amount=Decimal(amount),
                balance_after=balance,
                model=model,
                reason=reason,
                idempotency_key=key,
                prompt="a prompt" if model else "",
            )
        names = _rows("billing_operation", "model")

        _migrate(AFTER)
        assert [row[:-1] for row in _rows("billing_operation", "model_code")] == [row[:-1] for row in names]
        assert set(ModelName.objects.values_list("name", flat=True)) == {"gpt-4o-mini", "whisper-1"}
        assert list(Operation.objects.order_by("id").values_list("model", flat=True)) == [row[-1] for row in names]
        # New operations take ids after the copied ones.
        added = Operation.objects.create(user_id=1401, type=5, amount=1, balance_after=balance + 1, model="o3")
        assert added.pk == names[-1][0] + 1

        _migrate(BEFORE)
        assert _rows("billing_operation", "model")[:-1] == names
        assert _rows("billing_operation", "model")[-1][-1] == "o3"
    finally:
        _migrate(latest)
