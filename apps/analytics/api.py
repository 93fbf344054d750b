"""The analysts' API: thin views over the selectors. Staff only (token or admin session)."""

import csv
import json
from typing import Any

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.users.models import TelegramUser

from . import selectors
from .filters import EventFilter
from .models import AnalyticsEvent
from .serializers import (
    ActiveUsersOutput,
    ActivityDayOutput,
    DailyUsageRowOutput,
    DateRangeInput,
    DayInput,
    DetailOutput,
    EventOutput,
    FunnelInput,
    FunnelStepOutput,
    ResponseTimesInput,
    ResponseTimesRowOutput,
    RetentionCohortOutput,
    RetentionInput,
    UserUsageOutput,
    UserUsageTotalOutput,
    ValidationErrorsOutput,
)

NO_SUCH_USER = "No user with this id"
AS_CSV = OpenApiParameter("format", enum=["csv"], description="csv: the rows as a spreadsheet")


def answers(ok: Serializer | type[Serializer], *, validates: bool = False, missing: str = "", as_csv: str = "") -> dict:
    """A view's documented responses, by status: `ok`, and the refusals every view shares; a 400 where it
    validates parameters, a 404 saying what it can miss, and what `?format=csv` gives, where it does."""
    responses: dict = {(200, "application/json"): ok}
    if as_csv:
        responses[(200, "text/csv")] = OpenApiResponse(OpenApiTypes.STR, description=as_csv)
    if validates:
        responses[400] = OpenApiResponse(ValidationErrorsOutput, description="Each bad parameter with its messages")
    responses[401] = OpenApiResponse(DetailOutput, description="No token, or a wrong one, and no staff session")
    responses[403] = OpenApiResponse(
        DetailOutput, description="Not staff, or without the view permissions of what it reads"
    )
    if missing:
        responses[404] = OpenApiResponse(DetailOutput, description=missing)
    responses[429] = OpenApiResponse(DetailOutput, description="Too many requests (API_THROTTLE_RATE)")
    return responses


def query_params(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters; a bad one answers 400 naming the field."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class UsageDailyView(APIView):
    reads = ("llm.view_dailyusage",)

    @extend_schema(
        parameters=[DayInput],
        responses=answers(DailyUsageRowOutput(many=True), validates=True),
        summary="Every user's usage on one day",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.get_all_users_usage_by_date(query_params(DayInput, request)["date"]))


class UserUsageView(APIView):
    reads = ("users.view_telegramuser", "llm.view_dailyusage")

    @extend_schema(
        parameters=[DateRangeInput],
        responses=answers(UserUsageOutput, validates=True, missing=NO_SUCH_USER),
        summary="One user's daily series and totals",
    )
    def get(self, request: Request, user_id: int) -> Response:
        get_object_or_404(TelegramUser, pk=user_id)
        period = query_params(DateRangeInput, request)
        return Response(selectors.user_usage(user_id, period["start"], period["end"]))


class UserUsageTotalView(APIView):
    reads = ("users.view_telegramuser", "llm.view_userusagesummary")

    @extend_schema(responses=answers(UserUsageTotalOutput, missing=NO_SUCH_USER), summary="One user's all-time totals")
    def get(self, request: Request, user_id: int) -> Response:
        get_object_or_404(TelegramUser, pk=user_id)
        return Response(selectors.user_usage_total(user_id))


class FunnelView(APIView):
    reads = ("analytics.view_analyticsevent",)

    @extend_schema(
        parameters=[FunnelInput],
        responses=answers(FunnelStepOutput(many=True), validates=True),
        summary="Users reaching each step in order",
    )
    def get(self, request: Request) -> Response:
        params = query_params(FunnelInput, request)
        return Response(selectors.funnel(params["steps"], params["start"], params["end"], exact=params["exact"]))


class ResponseTimesView(APIView):
    reads = ("analytics.view_analyticsevent",)

    @extend_schema(
        parameters=[ResponseTimesInput],
        responses=answers(ResponseTimesRowOutput(many=True), validates=True),
        summary="count, avg, p50, p95, ttft p50 per bucket",
    )
    def get(self, request: Request) -> Response:
        params = query_params(ResponseTimesInput, request)
        return Response(
            selectors.response_times(params["start"], params["end"], params["interval"], exact=params["exact"])
        )


class RetentionView(APIView):
    reads = ("users.view_telegramuser", "users.view_useractivitylog")

    @extend_schema(
        parameters=[RetentionInput],
        responses=answers(RetentionCohortOutput(many=True), validates=True),
        summary="Cohorts by registration day or week",
    )
    def get(self, request: Request) -> Response:
        params = query_params(RetentionInput, request)
        return Response(selectors.retention(params["start"], params["end"], params["period"]))


class ActivityDailyView(APIView):
    reads = ("users.view_telegramuser", "users.view_useractivitylog")

    @extend_schema(
        parameters=[DateRangeInput],
        responses=answers(ActivityDayOutput(many=True), validates=True),
        summary="Active users, new users, messages per day",
    )
    def get(self, request: Request) -> Response:
        period = query_params(DateRangeInput, request)
        return Response(selectors.activity_daily(period["start"], period["end"]))


class ActiveUsersView(APIView):
    reads = ("users.view_telegramuser", "users.view_useractivitylog")

    @extend_schema(
        parameters=[DayInput],
        responses=answers(ActiveUsersOutput, validates=True),
        summary="DAU, WAU, MAU and new users as of a day",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.active_users(query_params(DayInput, request)["date"]))


class NewestFirst(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class _Echo:
    def write(self, value: str) -> str:
        return value


@extend_schema(
    parameters=[AS_CSV],
    responses=answers(
        EventOutput(many=True),
        validates=True,
        missing="An invalid cursor",
        as_csv="Every matching event, newest first",
    ),
)
class EventsView(ListAPIView):
    """Raw events, newest first, cursor-paginated; `?format=csv` streams every matching event."""

    reads = ("analytics.view_analyticsevent",)

    queryset = AnalyticsEvent.objects.all()
    serializer_class = EventOutput
    filterset_class = EventFilter
    pagination_class = NewestFirst

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response | StreamingHttpResponse:
        if request.query_params.get("format") != "csv":
            return super().list(request, *args, **kwargs)
        # The JSON pages' fields and order (newest first); properties as JSON, as the pages give them.
        events = self.filter_queryset(self.get_queryset()).order_by(*NewestFirst.ordering)
        columns = EventOutput.Meta.fields
        properties = columns.index("properties")
        writer = csv.writer(_Echo())

        def as_row(values: tuple) -> list:
            row = list(values)
            row[properties] = json.dumps(row[properties], ensure_ascii=False, sort_keys=True)
            return row

        rows = (
            writer.writerow(row)
            for row in [columns, *(as_row(values) for values in events.values_list(*columns).iterator(chunk_size=2000))]
        )
        response = StreamingHttpResponse(rows, content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="events.csv"'
        return response
