"""The broadcast form's audience, counted before saving: the endpoint its script asks, and the values the
segment offers (stream tags, languages, marker keys users have), on SQLite and on PostgreSQL alike."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.broadcast.models import Broadcast
from apps.broadcast.selectors import (
    get_users_by_criteria,
    languages_in_use,
    marker_keys_in_use,
    stream_tags_in_use,
)
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db

SEGMENT_URL = reverse("admin:broadcast_broadcast_segment")
EVERYONE = {"streams_match": "any"}  # what the form posts with nothing chosen


@pytest.fixture
def population() -> None:
    TelegramUser.objects.bulk_create(
        [
            TelegramUser(
                id=1, language_code="en", streams=["career", "growth"], markers={"tier": "gold", "level": 3},
                last_journey_stage="ordinary_world", gender="female",
            ),
            TelegramUser(
                id=2, language_code="en-US", streams=["career"], markers={"tier": "silver"},
                last_journey_stage="call_to_adventure", gender="male",
            ),
            TelegramUser(id=3, language_code="ru", streams=["growth"], markers={"purchased_streams": ["hero"]}),
            TelegramUser(id=4, language_code="RU", streams=[], markers={}),
            TelegramUser(id=5, language_code="", streams=["career"], markers={"tier": "gold"}, is_active=False),
        ]
    )  # fmt: skip


@pytest.mark.usefixtures("population")
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("segment", "criteria", "expected"),
    [
        ({}, {}, 4),
        ({"streams": ["career"]}, {"streams": ["career"]}, 2),
        (
            {"streams": ["career", "growth"], "streams_match": "all"},
            {"streams": ["career", "growth"], "streams_match": "all"},
            1,
        ),
        ({"language": "en"}, {"language": "en"}, 2),  # en-US too
        ({"journey_stages": ["ordinary_world", "ordeal"]}, {"journey_stages": ["ordinary_world", "ordeal"]}, 1),
        ({"markers": '{"tier": "gold"}'}, {"markers": {"tier": "gold"}}, 1),  # user 5 blocked the bot
        ({"markers": '{"level": 3}'}, {"markers": {"level": 3}}, 1),
        ({"markers": '{"level": "3"}'}, {"markers": {"level": "3"}}, 0),  # a number is not its text
        ({"gender": "male", "has_purchased": "false"}, {"gender": "male", "has_purchased": False}, 1),
    ],
)
def test_the_count_is_the_segment_the_send_takes(admin_client, method, segment, criteria, expected):
    data = {**EVERYONE, "has_purchased": "unknown", "refund_abuse": "unknown", **segment}
    response = getattr(admin_client, method)(SEGMENT_URL, data)
    assert response.status_code == 200, response.content
    assert response.json() == {"count": expected}
    assert get_users_by_criteria(criteria).count() == expected


@pytest.mark.usefixtures("population")
def test_counting_asks_for_the_count_only(admin_client):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.post(SEGMENT_URL, {**EVERYONE, "streams": ["career"]}).json() == {"count": 2}
    grouped = [query["sql"] for query in queries if "GROUP BY" in query["sql"]]
    assert grouped == [], "the values offered (stream tags, languages, marker keys) are for the page only"


@pytest.mark.usefixtures("population")
def test_the_message_may_be_half_written_while_the_segment_is_counted(admin_client):
    response = admin_client.post(
        SEGMENT_URL, {"title": "", "text": "<b>unclosed", "buttons": "[{]", "gender": "male", "streams_match": "any"}
    )
    assert response.json() == {"count": 1}


@pytest.mark.parametrize(
    ("segment", "field", "problem"),
    [
        ({"journey_stages": ["nowhere"]}, "journey_stages", "nowhere is not one of the available choices"),
        ({"registered_after": "2026-03-02", "registered_before": "2026-03-01"}, "registered_before", "earlier"),
        ({"registered_after": "yesterday"}, "registered_after", "valid date"),
        ({"last_seen_within_days": "-1"}, "last_seen_within_days", "greater than or equal to 0"),
        ({"markers": "{tier: gold}"}, "markers", "valid JSON"),
        ({"markers": '{"tier": ["gold"]}'}, "markers", "a text or a whole number"),
        ({"gender": "other"}, "gender", "not one of the available choices"),
    ],
)
def test_a_segment_the_form_refuses_is_not_counted_and_says_why(admin_client, segment, field, problem):
    response = admin_client.post(SEGMENT_URL, {**EVERYONE, **segment})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field] and problem in errors[field][0], errors


def _staff(username: str, *permissions: str) -> Client:
    staff = User.objects.create_user(username, is_staff=True)
    staff.user_permissions.add(*(Permission.objects.get(codename=codename) for codename in permissions))
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


@pytest.mark.usefixtures("population")
def test_only_staff_who_may_view_broadcasts_are_answered(client):
    anonymous = client.get(SEGMENT_URL)
    assert anonymous.status_code == 403 and "error" in anonymous.json(), "JSON, not the login page"
    client.force_login(User.objects.create_user("outsider"))  # not staff
    assert client.get(SEGMENT_URL).status_code == 403
    assert _staff("clerk", "view_telegramuser").get(SEGMENT_URL).status_code == 403
    assert _staff("operator", "view_broadcast").get(SEGMENT_URL, EVERYONE).json() == {"count": 4}


@pytest.mark.usefixtures("population")
def test_a_post_needs_the_csrf_token():
    operator = _staff("operator", "view_broadcast")
    assert operator.post(SEGMENT_URL, {**EVERYONE, "gender": "male"}).status_code == 403
    token = operator.get(reverse("admin:broadcast_broadcast_changelist")).cookies["csrftoken"].value
    answer = operator.post(SEGMENT_URL, {**EVERYONE, "gender": "male", "csrfmiddlewaretoken": token})
    assert answer.status_code == 200 and answer.json() == {"count": 1}


@pytest.mark.usefixtures("population")
def test_the_segment_offers_what_users_have_with_how_many_have_it(admin_client):
    assert stream_tags_in_use() == [("career", 2), ("growth", 2)]  # user 5 blocked the bot: not counted
    assert languages_in_use() == [("en", 2), ("ru", 2)]
    assert marker_keys_in_use() == [("tier", 2), ("level", 1), ("purchased_streams", 1)]

    broadcast = Broadcast.objects.create(title="t", text="x", streams=["career", "retired"], language="en-GB")
    page = admin_client.get(reverse("admin:broadcast_broadcast_change", args=[broadcast.pk])).content.decode()
    assert "career (2)" in page and "growth (2)" in page and "retired (nobody now)" in page
    assert '<option value="">Any</option>' in page and '<option value="ru">ru (2)</option>' in page
    assert '<option value="en-GB" selected>en-GB</option>' in page, "a code typed before the list stays"
    assert 'data-suggest="[&quot;tier&quot;, &quot;level&quot;, &quot;purchased_streams&quot;]"' in page


@pytest.mark.usefixtures("population")
def test_staff_who_only_view_read_the_count_on_the_page():
    broadcast = Broadcast.objects.create(title="t", text="x", streams=["growth"])
    page = _staff("reader", "view_broadcast").get(reverse("admin:broadcast_broadcast_change", args=[broadcast.pk]))
    assert "reaches 2 users now" in page.content.decode()
