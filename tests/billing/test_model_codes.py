"""An operation's model is stored as a small code (ModelName) and read as its name everywhere."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.urls import reverse

from apps.billing.models import ModelName, Operation, OperationType
from apps.billing.services import add_to_balance, billing_reserve, billing_settle, create_operation
from apps.users.models import TelegramUser
from tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> TelegramUser:
    user = TelegramUser.objects.create(id=1301, username="answered")
    add_to_balance(user.id, Decimal("10"))
    return user


def _stored_code(operation_id: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT model_code FROM billing_operation WHERE id = %s", [operation_id])
        return cursor.fetchone()[0]


def test_the_name_is_stored_once_and_each_operation_holds_its_code(user):
    first = create_operation(user.id, "generation", Decimal("-1"), model="gpt-4o-mini")
    second = create_operation(user.id, "generation", Decimal("-1"), model="gpt-4o-mini")
    other = create_operation(user.id, "generation", Decimal("-1"), model="whisper-1")
    none = create_operation(user.id, "bonus", Decimal("1"))

    codes = dict(ModelName.objects.values_list("name", "id"))
    assert set(codes) == {"gpt-4o-mini", "whisper-1"}
    assert _stored_code(first) == _stored_code(second) == codes["gpt-4o-mini"]
    assert _stored_code(other) == codes["whisper-1"] and _stored_code(none) is None
    names = dict(Operation.objects.values_list("id", "model"))
    assert (names[first], names[other], names[none]) == ("gpt-4o-mini", "whisper-1", "")
    assert list(Operation.objects.filter(model="whisper-1").values_list("id", flat=True)) == [other]
    assert not Operation.objects.filter(model="never-used").exists()
    assert Operation.objects.filter(model="").count() == Operation.objects.filter(model__isnull=True).count() == 2


def test_a_settled_answer_shows_its_model_in_the_api_and_the_admin(user, analyst_api, admin_client):
    reserve = billing_reserve(user_id=user.id, amount=Decimal("0.5"))
    generation = billing_settle(reserve=reserve, charge=Decimal("0.2"), llm_request_id=None, model="gpt-4o-mini")
    create_operation(user.id, "generation", Decimal("-0.1"), model="claude-haiku")

    rows = analyst_api.get(f"/api/v1/users/{user.id}/operations/").json()["results"]
    assert [(row["type"], row["model"]) for row in rows[:4]] == [
        ("generation", "claude-haiku"),
        ("generation", "gpt-4o-mini"),
        ("release", ""),
        ("reserve", ""),
    ]

    changelist = reverse("admin:billing_operation_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "gpt-4o-mini" in page and "claude-haiku" in page
    filtered = admin_client.get(changelist, {"model": "gpt-4o-mini"})
    assert [op.pk for op in filtered.context["cl"].result_list] == [generation.pk]
    exported = admin_client.post(changelist, {"action": "export_csv", "_selected_action": [generation.pk]}).getvalue()
    assert b",gpt-4o-mini," in exported


def test_a_name_first_used_in_a_transaction_that_rolled_back_is_not_remembered(user):
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        create_operation(user.id, "generation", Decimal("-1"), model="rolled-back")
        raise Abandoned
    assert not ModelName.objects.filter(name="rolled-back").exists()

    # SQLite gives the next name the code the rolled-back one had: neither may be read as the other.
    other = create_operation(user.id, "generation", Decimal("-1"), model="kept")
    again = create_operation(user.id, "generation", Decimal("-1"), model="rolled-back")
    names = dict(Operation.objects.values_list("id", "model"))
    assert (names[other], names[again]) == ("kept", "rolled-back")
    assert set(ModelName.objects.values_list("name", flat=True)) == {"kept", "rolled-back"}


def test_a_long_model_name_is_cut_to_the_label_length(user):
    reserve = billing_reserve(user_id=user.id, amount=Decimal("0.5"))
    generation = billing_settle(reserve=reserve, charge=Decimal("0.2"), llm_request_id=None, model="m" * 100)
    assert Operation.objects.get(pk=generation.pk).model == "m" * 64


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_uses_of_a_name_agree_on_one_code(require_postgres):
    for user_id in range(1311, 1319):
        TelegramUser.objects.create(id=user_id)
        add_to_balance(user_id, Decimal("5"))

    ids = run_concurrently(
        lambda n: create_operation(1311 + n, "generation", Decimal("-1"), model="brand-new-model"), 8
    )
    assert ModelName.objects.filter(name="brand-new-model").count() == 1
    assert {_stored_code(pk) for pk in ids} == {ModelName.objects.get(name="brand-new-model").pk}
    assert set(Operation.objects.filter(pk__in=ids).values_list("model", flat=True)) == {"brand-new-model"}


@pytest.mark.django_db(transaction=True)
def test_a_first_use_waits_for_a_concurrent_one_not_yet_committed(require_postgres):
    """Another transaction inserted the name and has not committed: the second use waits for it and takes its
    code, instead of failing on the unique name or making a second one."""
    for user_id in (1321, 1322):
        TelegramUser.objects.create(id=user_id)
        add_to_balance(user_id, Decimal("5"))
    inserted = threading.Event()
    first: list[int] = []

    def hold_open() -> None:
        try:
            with transaction.atomic():
                first.append(create_operation(1321, "generation", Decimal("-1"), model="slow-model"))
                inserted.set()
                time.sleep(0.5)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_open)
    holder.start()
    assert inserted.wait(10)
    second = create_operation(1322, "generation", Decimal("-1"), model="slow-model")
    holder.join()
    assert _stored_code(first[0]) == _stored_code(second) == ModelName.objects.get(name="slow-model").pk
    assert Operation.objects.get(pk=second).type == OperationType.GENERATION
