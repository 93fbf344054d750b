"""Erasing a person leaves what is written about others as it was: their name is looked for as a whole word, so a
longer name, a username or a number it is part of (Max in @maxwell, Ann in Annabel) is somebody else's."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType

from apps.bot.flows.erase import user_erase
from apps.core.privacy import redacted
from apps.users.models import ErasureReceipt, TelegramUser
from tests.factories import UserWithBalanceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("refund for Max, by mail", "refund for [erased], by mail"),
        ("MAX asked twice", "[erased] asked twice"),
        ("@maxwell asked", "@maxwell asked"),
        ("user 180123 and 1801", "user 180123 and [erased]"),
        ("Maxim Petrov", "Maxim Petrov"),
    ],
)
def test_a_name_is_redacted_as_a_whole_word(text, kept):
    assert redacted(text, ["Max", "1801"]) == kept


def test_the_admin_history_of_someone_whose_name_holds_theirs_stays_as_it_was():
    staff = User.objects.create_user("clerk", is_staff=True)
    person = UserWithBalanceFactory(username="", first_name="Max")
    other = UserWithBalanceFactory(username="maxwell", first_name="Maxim")
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(TelegramUser),
        object_id=str(other.pk),
        object_repr=str(other),
        action_flag=CHANGE,
        change_message="[]",
    )

    user_erase(person.pk, reason="asked by email", via=ErasureReceipt.Via.COMMAND)
    assert LogEntry.objects.get().object_repr == "@maxwell"


@pytest.mark.parametrize("spelling", ["Ирина", "ИРИНА", "ирина"])
def test_a_cyrillic_name_in_the_admin_history_is_found_in_any_case(spelling):
    """SQLite's LIKE folds only ASCII letters: the name is looked for as it is written, in capitals and lower case."""
    staff = User.objects.create_user("clerk", is_staff=True)
    person = UserWithBalanceFactory(username="", first_name="Ирина")
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(staff.pk),
        object_repr=f"note: {spelling} asked for a refund",
        action_flag=CHANGE,
        change_message="[]",
    )

    user_erase(person.pk, reason="asked by email", via=ErasureReceipt.Via.COMMAND)
    assert LogEntry.objects.get().object_repr == "note: [erased] asked for a refund"
