"""The OpenAPI schema documents what every endpoint answers, and every real answer matches it: each key
the API returns is a property the schema lists, with the type it says, so the docs cannot drift."""

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
import schemathesis
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from apps.analytics.catalogue import Events
from apps.analytics.services import record_usage, track
from apps.billing.models import OperationType
from apps.billing.services import ledger_apply
from apps.users.models import TelegramUser, UserActivityLog
from config import api_urls
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

DAY = "2026-03-02"
PERIOD = {"start": "2026-03-01", "end": "2026-03-05"}
USER = 1

# One call per endpoint on the planted data, each answering rows, so every documented field is met.
ANSWERS_200 = {
    "/api/v1/usage/daily/": {"date": DAY},
    "/api/v1/users/{user_id}/usage/": PERIOD,
    "/api/v1/users/{user_id}/usage/total/": {},
    "/api/v1/users/{user_id}/operations/": {},
    "/api/v1/users/{user_id}/balance/": {},
    "/api/v1/llm/costs/": {**PERIOD, "group_by": "model"},
    "/api/v1/events/": PERIOD,
    "/api/v1/funnel/": {**PERIOD, "steps": f"{Events.BOT_STARTED},{Events.DIALOG_STARTED}"},
    "/api/v1/response-times/": PERIOD,
    "/api/v1/retention/": PERIOD,
    "/api/v1/activity/daily/": PERIOD,
    "/api/v1/activity/active-users/": {"date": DAY},
    "/api/v1/users/stages/": {},
}
# The endpoints that validate their parameters, each with a bad one.
ANSWERS_400 = {
    "/api/v1/usage/daily/": {"date": "yesterday"},
    "/api/v1/users/{user_id}/usage/": {"start": "2026-03-05", "end": "2026-03-01"},
    "/api/v1/users/{user_id}/operations/": {"type": "nonsense"},
    "/api/v1/llm/costs/": {"group_by": "planet"},
    "/api/v1/events/": {"user_id": "abc"},
    "/api/v1/funnel/": {"steps": Events.BOT_STARTED},
    "/api/v1/response-times/": {"interval": "minute"},
    "/api/v1/retention/": {"period": "month"},
    "/api/v1/activity/daily/": {"start": "0001-01-01"},
    "/api/v1/activity/active-users/": {},
}
UNKNOWN_USER = 404


def documented_paths() -> set[str]:
    """config/api_urls.py's routes as the schema writes them: /api/v1/users/{user_id}/usage/."""
    return {"/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(url.pattern)) for url in api_urls.urlpatterns}


def at(hours: float) -> datetime:
    return datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_current_timezone()) + timedelta(hours=hours)


def closed(node: object) -> object:
    """The schema with every object that lists its properties closed to the others: an undocumented key
    in a real answer fails validation."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: closed(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


@pytest.fixture
def openapi(analyst_api) -> dict:
    response = analyst_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def api_schema(openapi):
    return schemathesis.openapi.from_dict(closed(openapi))


@pytest.fixture
def planted() -> None:
    """A user who paid, chatted on two days through two models, and came back; events for the funnel
    and response times."""
    user = TelegramUser.objects.create(id=USER, username="first", registration_date=at(-1), last_journey_stage="ordeal")
    PaymentFactory(user=user, stars=50, credits=Decimal(100))
    # The first answer's few tokens of a cheap model cost what Python writes 5E-7 unless told otherwise.
    for hours, model, cost, ttft in [(0, "a", "0.0000005", 300), (25, "b", "0.002", None)]:
        request = record_usage(
            USER,
            "first",
            10,
            prompt_tokens=8,
            completion_tokens=2,
            cost=Decimal(cost),
            model=model,
            provider="p",
            occurred_at=at(hours),
        )
        ledger_apply(user_id=USER, type=OperationType.GENERATION, amount=Decimal("-0.5"), llm_request_id=request.pk)
        timing = {"duration_ms": 900, "model_used": model} | ({"ttft_ms": ttft} if ttft else {})
        track(Events.RESPONSE_TIME, user_id=USER, properties=timing, occurred_at=at(hours))
        UserActivityLog.objects.create(user=user, activity_type="message", timestamp=at(hours))
    track(Events.BOT_STARTED, user_id=USER, properties={"is_new": True}, occurred_at=at(-1))
    track(Events.DIALOG_STARTED, user_id=USER, occurred_at=at(0))


def received(response, path: str) -> schemathesis.Response:
    """A Django test response as schemathesis reads responses."""
    return schemathesis.Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request("GET", f"http://testserver{path}").prepare(),
        elapsed=0,
        verify=False,
    )


def assert_documented(api_schema, openapi: dict, path: str, response) -> None:
    """The answer's status is documented for the path, and the answer is what the schema says."""
    statuses = openapi["paths"][path]["get"]["responses"]
    assert str(response.status_code) in statuses, f"{path} answers {response.status_code}, undocumented"
    api_schema[path]["GET"].validate_response(received(response, path))


def test_the_schema_has_every_path_of_the_api_and_each_is_exercised_here(openapi):
    assert set(openapi["paths"]) == documented_paths()
    assert set(ANSWERS_200) == documented_paths()


def test_every_success_is_a_named_schema_of_fields(openapi):
    def component(schema: dict) -> tuple[str, dict]:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return name, openapi["components"]["schemas"][name]

    for path in documented_paths():
        schema = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        name, answer = component(schema.get("items", schema))
        if name.startswith("Paginated"):
            name, answer = component(answer["properties"]["results"]["items"])
        assert answer.get("properties"), f"{path} documents its answer as {name}, without fields"


@pytest.mark.parametrize("path", sorted(ANSWERS_200))
def test_each_answer_has_only_documented_fields_of_the_documented_types(
    path, planted, analyst_api, openapi, api_schema
):
    response = analyst_api.get(path.format(user_id=USER), ANSWERS_200[path])
    assert response.status_code == 200
    body = response.json()
    assert body["results"] if "results" in body else body, "the planted data gives rows to check"
    assert_documented(api_schema, openapi, path, response)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/{user_id}/usage/", "/api/v1/users/{user_id}/usage/total/", "/api/v1/users/{user_id}/balance/"],
)
def test_a_user_who_never_asked_gets_the_documented_zeros(path, analyst_api, openapi, api_schema):
    TelegramUser.objects.create(id=USER)
    response = analyst_api.get(path.format(user_id=USER))
    assert response.status_code == 200
    assert_documented(api_schema, openapi, path, response)


def test_the_answers_check_catches_an_undocumented_key(planted, analyst_api, api_schema):
    path = "/api/v1/users/{user_id}/balance/"
    response = analyst_api.get(path.format(user_id=USER))
    response.content = response.content.replace(b'"unit"', b'"units"')
    with pytest.raises(AssertionError, match="units"):
        api_schema[path]["GET"].validate_response(received(response, path))


@pytest.mark.parametrize("path", sorted(ANSWERS_400))
def test_bad_parameters_are_a_documented_400(path, planted, analyst_api, openapi, api_schema):
    response = analyst_api.get(path.format(user_id=USER), ANSWERS_400[path])
    assert response.status_code == 400
    assert_documented(api_schema, openapi, path, response)


@pytest.mark.parametrize("path", sorted(set(ANSWERS_200) - set(ANSWERS_400)))
def test_endpoints_without_parameters_to_validate_document_no_400(path, openapi):
    assert "400" not in openapi["paths"][path]["get"]["responses"]


@pytest.mark.parametrize("path", sorted(path for path in ANSWERS_200 if "{user_id}" in path))
def test_an_unknown_user_is_a_documented_404(path, analyst_api, openapi, api_schema):
    response = analyst_api.get(path.format(user_id=UNKNOWN_USER))
    assert response.status_code == 404
    assert_documented(api_schema, openapi, path, response)


@pytest.mark.parametrize("path", sorted(ANSWERS_200))
def test_refusals_are_documented(path, openapi, api_schema):
    staff_without_permissions = APIClient()
    staff_without_permissions.force_authenticate(User.objects.create_user("bare", is_staff=True))
    for client, status in [(APIClient(), 401), (staff_without_permissions, 403)]:
        response = client.get(path.format(user_id=USER))
        assert response.status_code == status
        assert_documented(api_schema, openapi, path, response)
