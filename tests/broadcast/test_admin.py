"""The broadcast admin: segment preview, validation, the action buttons, live progress, the audit."""

import pytest
from django.urls import reverse

from apps.broadcast.models import Broadcast, BroadcastAction, BroadcastDelivery
from apps.users.models import TelegramUser
from tests.factories import BroadcastFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def users() -> None:
    TelegramUser.objects.bulk_create(
        [
            TelegramUser(id=n, gender="female" if n % 2 else "male", streams=["career"] if n < 4 else [])
            for n in range(1, 9)
        ]
    )


def _add(admin_client, **fields):
    form = {
        "title": "Spring news",
        "text": "<b>Spring</b> is here",
        "photo": "",
        "buttons": "[]",
        "gender": "",
        "streams_match": "any",
        "markers": "{}",
        "language": "",
        "_continue": "1",
        "actions-TOTAL_FORMS": "0",
        "actions-INITIAL_FORMS": "0",
        **fields,
    }
    return admin_client.post(reverse("admin:broadcast_broadcast_add"), form)


def test_a_draft_keeps_its_segment_and_the_page_counts_it_live(admin_client, users):
    response = _add(admin_client, gender="female", streams=["career"])
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get()
    assert (broadcast.streams, broadcast.created_by.username) == (["career"], "admin")
    page = admin_client.get(reverse("admin:broadcast_broadcast_change", args=[broadcast.pk])).content.decode()
    assert 'class="module aligned broadcast-segment"' in page and "broadcast/form.js" in page
    assert f'data-segment-url="{reverse("admin:broadcast_broadcast_segment")}"' in page
    assert "users now" not in page, "a draft's audience is counted live by the form's script, beside its heading"
    assert '<input type="checkbox" name="streams" value="career" id="id_streams_0" checked>' in page
    assert "career (3)" in page, "the tags users have, with how many have each"
    assert "Send a test to me" in page and "Start now" in page and 'class="button danger"' in page
    assert "the tags b, i, u, s" in page, "help texts are HTML in the admin: no tags in them"
    assert list(BroadcastAction.objects.values_list("action", "staff__username")) == [("created", "admin")]


def test_markers_and_buttons_are_stored_as_the_rows_write_them(admin_client, users):
    page = admin_client.get(reverse("admin:broadcast_broadcast_add")).content.decode()
    assert 'data-rows="list"' in page and 'data-rows="object"' in page
    buttons = '[{"text": "Open", "url": "https://example.com/spring"}]'
    response = _add(admin_client, buttons=buttons, markers='{"tier": "gold", "level": 3}')
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get()
    assert broadcast.buttons == [{"text": "Open", "url": "https://example.com/spring"}]
    assert broadcast.markers == {"tier": "gold", "level": 3}


@pytest.mark.parametrize(
    ("markers", "problem"),
    [('{"": "x"}', "every marker needs a name"), ('{"tier": ["gold"]}', "a text or a whole number")],
)
def test_a_marker_is_a_named_text_or_whole_number(admin_client, users, markers, problem):
    page = _add(admin_client, markers=markers).content.decode()
    assert problem in page and not Broadcast.objects.exists()


def test_yes_no_criteria_read_any_yes_no_and_reach_the_segment(admin_client, users):
    page = admin_client.get(reverse("admin:broadcast_broadcast_add")).content.decode()
    assert '<option value="unknown" selected>Any</option>' in page and "Unknown" not in page
    assert "flagged for refund abuse" in page.lower()
    response = _add(admin_client, has_purchased="false", refund_abuse="unknown")
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get()
    assert (broadcast.has_purchased, broadcast.refund_abuse) == (False, None)
    assert broadcast.criteria == {"has_purchased": False}


def test_bad_html_and_bad_buttons_are_refused_in_the_form(admin_client, users):
    page = _add(admin_client, text="<b>Spring", buttons='[{"text": "Go"}]').content.decode()
    assert "&lt;b&gt; is never closed" in page and "needs exactly" in page
    assert not Broadcast.objects.exists()


def test_start_from_the_admin_sends_and_the_progress_is_live(admin_client, users, bot_api, settings):
    settings.BROADCAST_RATE = 500
    _add(admin_client, gender="male")
    broadcast = Broadcast.objects.get()
    act = reverse("admin:broadcast_broadcast_act", args=[broadcast.pk])
    assert admin_client.post(act, {"action": "start"}).status_code == 302

    assert sorted(int(c.params["chat_id"]) for c in bot_api.calls_to("sendMessage")) == [2, 4, 6, 8]
    progress = admin_client.get(reverse("admin:broadcast_broadcast_progress", args=[broadcast.pk])).json()
    assert (progress["status"], progress["recipients"], progress["done"], progress["counts"]["sent"]) == (
        "done", 4, 4, 4,
    )  # fmt: skip
    page = admin_client.get(reverse("admin:broadcast_broadcast_change", args=[broadcast.pk])).content.decode()
    assert "Done: 4 recipients — 4 sent" in page and "Start now" not in page
    assert "taken at the start: 4 users" in page and 'id="broadcast-actions"' not in page, "nothing left to do"
    assert 'name="text"' not in page, "a started broadcast can no longer be edited"
    results = admin_client.get(
        reverse("admin:broadcast_broadcastdelivery_changelist"), {"broadcast__id__exact": broadcast.pk}
    )
    assert results.status_code == 200 and results.content.decode().count("field-status") >= 4
    assert admin_client.post(act, {"action": "start"}).status_code == 302
    assert BroadcastDelivery.objects.count() == 4, "a second start changes nothing"
    assert list(BroadcastAction.objects.values_list("action", flat=True)) == ["created", "started", "finished"]


def test_a_test_without_a_linked_account_explains_itself(admin_client, users, bot_api):
    _add(admin_client)
    broadcast = Broadcast.objects.get()
    act = reverse("admin:broadcast_broadcast_act", args=[broadcast.pk])
    page = admin_client.post(act, {"action": "test"}, follow=True).content.decode()
    assert "not linked to a Telegram account" in page
    TelegramUser.objects.filter(pk=5).update(staff_account=broadcast.created_by)
    page = admin_client.post(act, {"action": "test"}, follow=True).content.decode()
    assert "Test sent to" in page and [int(c.params["chat_id"]) for c in bot_api.calls_to("sendMessage")] == [5]


def test_only_staff_reach_the_actions(client, users):
    broadcast = BroadcastFactory(title="x", text="y")
    response = client.post(reverse("admin:broadcast_broadcast_act", args=[broadcast.pk]), {"action": "start"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Broadcast.objects.get().status == "draft"


def test_schedule_needs_a_future_time_and_is_audited(admin_client, users):
    from datetime import timedelta

    from django.utils import timezone

    _add(admin_client)
    broadcast = Broadcast.objects.get()
    act = reverse("admin:broadcast_broadcast_act", args=[broadcast.pk])
    page = admin_client.post(act, {"action": "schedule"}, follow=True).content.decode()
    assert "set a future" in page and Broadcast.objects.get().status == "draft"
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=timezone.now() + timedelta(hours=2))
    admin_client.post(act, {"action": "schedule"})
    assert Broadcast.objects.get().status == "scheduled"
    assert BroadcastAction.objects.filter(action="scheduled", staff__username="admin").exists()


def test_the_unconfirmed_go_again_only_when_staff_ask(admin_client, users, bot_api):
    broadcast = BroadcastFactory(title="x", text="y", status="done", recipients=1, unconfirmed=1)
    BroadcastDelivery.objects.create(broadcast=broadcast, user_id=1, status="unconfirmed", attempts=1)
    change = reverse("admin:broadcast_broadcast_change", args=[broadcast.pk])
    assert "Send the 1 unconfirmed again" in admin_client.get(change).content.decode()
    admin_client.post(reverse("admin:broadcast_broadcast_act", args=[broadcast.pk]), {"action": "resend_unconfirmed"})
    assert [int(c.params["chat_id"]) for c in bot_api.calls_to("sendMessage")] == [1]
    assert BroadcastDelivery.objects.get().status == "sent"
