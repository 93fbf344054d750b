import pytest

from apps.users.models import TelegramUser, UserActivityLog
from apps.users.services import ContactActivity, TelegramIdentity, user_record_contact, user_set_active
from tests.helpers import run_concurrently


def _contact(user_id: int, **identity) -> ContactActivity:
    return ContactActivity(chat_id=user_id, activity_type="message", details={"content": "text"})


@pytest.mark.django_db
def test_first_contact_creates_with_source_later_contacts_refresh_names_only():
    first = user_record_contact(
        identity=TelegramIdentity(id=1, first_name="A", username="a"), activity=_contact(1), source="promo"
    )
    again = user_record_contact(
        identity=TelegramIdentity(id=1, first_name="B", username="b", is_premium=True),
        activity=_contact(1),
        source="other",
    )
    assert first.created and not again.created
    user = TelegramUser.objects.get(pk=1)
    assert (user.first_name, user.username, user.is_premium, user.source) == ("B", "b", True, "promo")
    assert UserActivityLog.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_contact_keeps_product_fields():
    user_record_contact(identity=TelegramIdentity(id=2, first_name="A"), activity=_contact(2))
    TelegramUser.objects.filter(pk=2).update(is_admin=True, gender="female", streams=["a"], markers={"k": 1})
    user_record_contact(identity=TelegramIdentity(id=2, first_name="A2"), activity=_contact(2))
    user = TelegramUser.objects.get(pk=2)
    assert (user.is_admin, user.gender, user.streams, user.markers) == (True, "female", ["a"], {"k": 1})


@pytest.mark.django_db
def test_set_active_reports_a_change_only_once():
    user_record_contact(identity=TelegramIdentity(id=3), activity=_contact(3))
    assert user_set_active(user_id=3, is_active=False) is True
    assert user_set_active(user_id=3, is_active=False) is False
    assert user_set_active(user_id=404, is_active=False) is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_contacts_of_one_new_user_make_one_row_and_one_creation(require_postgres):
    results = run_concurrently(
        lambda n: user_record_contact(identity=TelegramIdentity(id=77, first_name=f"name{n}"), activity=_contact(77)),
        8,
    )
    assert TelegramUser.objects.filter(pk=77).count() == 1
    assert UserActivityLog.objects.filter(user_id=77).count() == 8
    assert sum(result.created for result in results) == 1
