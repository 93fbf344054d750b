"""schemathesis against the project's own OpenAPI schema: whatever a client sends, never a 5xx."""

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token

from apps.analytics.services import record_usage
from tests.factories import UserWithBalanceFactory


def test_no_request_the_schema_allows_gets_a_server_error(live_server, analyst_group):
    import schemathesis

    UserWithBalanceFactory(id=1, username="known", credits=5)
    record_usage(1, "known", 10, prompt_tokens=8, completion_tokens=2, model="m", provider="p")
    staff = User.objects.create_user("fuzzer", is_staff=True)
    staff.groups.add(analyst_group)
    headers = {"Authorization": f"Token {Token.objects.create(user=staff).key}"}
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures, statuses = [], []
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def call(case) -> None:
            response = case.call(base_url=live_server.url, headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, response.status_code))

        call()
    assert not failures, failures[:5]
    assert len(statuses) > 100 and 200 in statuses and 400 in statuses, "the fuzzing reached the views"


pytestmark = pytest.mark.django_db(transaction=True)
