"""Lists that answer questions: users by what they are worth (balance, paid, lifetime margin) with where they
stand (last seen, stage, language, source), sorted and filtered by those; LLM requests with model, type, tokens,
cost and latency on a 1400 px screen without scrolling sideways; the ledger newest first; numbers grouped in
thousands."""

import html
import re
from decimal import Decimal

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.billing.models import OperationType
from apps.billing.services import ledger_apply
from apps.users.models import TelegramUser
from tests.factories import LLMRequestFactory, PaymentFactory, TelegramUserFactory, UserWithBalanceFactory
from tests.helpers import admin_login

pytestmark = pytest.mark.django_db(transaction=True)

USERS = reverse("admin:users_telegramuser_changelist")


def _buyer(consumed: int, payments: int = 1, **fields) -> TelegramUser:
    """Paid 50 Stars for 100 credits `payments` times and consumed `consumed` credits."""
    user = TelegramUserFactory(**fields)
    for _ in range(payments):
        PaymentFactory(user=user, package__credits=100, package__stars=50)
    if consumed:
        ledger_apply(user_id=user.pk, type=OperationType.GENERATION, amount=-consumed)
    return user


@pytest.fixture
def population() -> dict[str, TelegramUser]:
    return {
        "best": _buyer(80, first_name="Best", language_code="ru", source="ads"),
        "good": _buyer(20, first_name="Good", language_code="en", payments=2, last_journey_stage="call_to_adventure"),
        "idle": UserWithBalanceFactory(first_name="Idle", language_code="en", credits=0),
        "costly": LLMRequestFactory(user__first_name="Costly", cost=Decimal("0.5")).user,
    }


def _listed(client: Client, query: str = "") -> list[int]:
    response = client.get(USERS + query)
    assert response.status_code == 200
    return [user.pk for user in response.context["cl"].result_list]


def _position(client: Client, name: str) -> int:
    """Where a column is in the user list, as the list's `o` parameter counts."""
    return client.get(USERS).context["cl"].list_display.index(name)


def _headers(client: Client, url: str) -> list[str]:
    return [str(header["text"]) for header in result_headers(client.get(url).context["cl"])]


def test_the_user_list_shows_what_each_user_is_worth_and_where_they_stand(admin_client, population):
    headers = _headers(admin_client, USERS)
    for header in ["balance, credits", "paid", "lifetime margin", "last seen", "journey stage"]:
        assert header in headers, header
    assert {"language", "source"} <= set(headers)
    page = admin_client.get(USERS).content.decode()
    assert "$0.65" in page and "$1.30" in page  # what the buyers paid: 50 and 100 Stars


@pytest.mark.parametrize(
    ("column", "ranking"),
    [("lifetime_margin", ["best", "good", "idle", "costly"]), ("lifetime_paid", ["good", "best"])],
)
def test_the_user_list_sorts_by_margin_and_by_spend(admin_client, population, column, ranking):
    ranked = _listed(admin_client, f"?o=-{_position(admin_client, column)}")
    assert ranked[: len(ranking)] == [population[name].pk for name in ranking]


@pytest.mark.parametrize(("link", "first"), [("Most profitable first", "best"), ("Biggest spenders first", "good")])
def test_the_front_page_is_two_clicks_from_a_ranking(admin_client, population, link, first):
    front = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{USERS}"' in front  # click one
    users = admin_client.get(USERS).content.decode()
    [query] = re.findall(rf'<a href="(\?[^"]+)">{link}</a>', users)  # click two
    assert _listed(admin_client, html.unescape(query))[0] == population[first].pk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?balance=positive", {"best", "good"}),
        ("?balance=zero", {"idle", "costly"}),
        ("?language_code=en", {"good", "idle"}),
        ("?source=ads", {"best"}),
        ("?stage=call_to_adventure", {"good"}),
        ("?stage=none", {"best", "idle", "costly"}),
    ],
)
def test_the_user_list_filters_by_balance_language_and_source(admin_client, population, query, expected):
    assert set(_listed(admin_client, query)) == {population[name].pk for name in expected}


def test_the_ledger_lists_newest_first(admin_client, population):
    response = admin_client.get(reverse("admin:billing_operation_changelist"))
    ids = [operation.pk for operation in response.context["cl"].result_list]
    assert ids == sorted(ids, reverse=True) and len(ids) > 2


def test_the_request_list_shows_model_type_tokens_cost_and_latency_grouped(admin_client):
    LLMRequestFactory(prompt_tokens=12000, completion_tokens=345, latency_ms=1500, cost=Decimal("0.0125"))
    url = reverse("admin:llm_llmrequest_changelist")
    assert {"request type", "model", "tokens", "cost", "latency", "status"} <= set(_headers(admin_client, url))
    page = admin_client.get(url).content.decode()
    assert "12,345" in page and "1,500\N{NO-BREAK SPACE}ms" in page and "$0.01" in page
    assert "<strong>12,345</strong> tokens" in page


def test_the_request_list_fits_1400_px_with_cost_and_latency_in_view(browser, screenshot, live_server):
    from selenium.webdriver.common.by import By

    for n in range(12):
        LLMRequestFactory(
            user__first_name=f"Person {n}",
            user__username=f"a_rather_long_username_{n}",
            model="openrouter/anthropic/a-model-with-a-very-long-identifier-2026-01-01",
            latency_ms=1000 + n * 1111,
        )
    User.objects.create_superuser("operator", password="a-long-test-password")
    browser.set_window_size(1400, 1000)
    admin_login(
        browser,
        live_server.url,
        reverse("admin:llm_llmrequest_changelist"),
        username="operator",
        password="a-long-test-password",
    )

    assert browser.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth")
    width = browser.execute_script("return window.innerWidth")
    for column in ["model", "tokens", "cost_shown", "latency"]:
        cell = browser.find_element(By.CSS_SELECTOR, f"#result_list td.field-{column}")
        assert cell.is_displayed() and cell.rect["x"] + cell.rect["width"] <= width, column
    screenshot("llm-requests-1400")


def test_the_user_list_fits_1400_px(browser, screenshot, live_server, population):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("operator", password="a-long-test-password")
    browser.set_window_size(1400, 1000)
    admin_login(browser, live_server.url, USERS, username="operator", password="a-long-test-password")

    assert browser.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth")
    width = browser.execute_script("return window.innerWidth")
    for column in ["balance_credits", "lifetime_paid", "lifetime_margin", "source"]:
        cell = browser.find_element(By.CSS_SELECTOR, f"#result_list td.field-{column}")
        assert cell.rect["x"] + cell.rect["width"] <= width, column
    screenshot("users-1400")
