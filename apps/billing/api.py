import csv

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.analytics.api import AS_CSV, NO_SUCH_USER, answers, query_params
from apps.users.models import TelegramUser

from . import selectors
from .filters import OperationFilter
from .models import Operation
from .revenue import GROUPINGS, revenue_rows
from .serializers import BalanceOutput, CostsInput, CostsRowOutput, JourneyStageOutput, OperationOutput
from .services import get_user_balance


class LatestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema(
    responses=answers(OperationOutput(many=True), validates=True, missing=f"{NO_SUCH_USER}, or an invalid cursor")
)
class UserOperationsView(ListAPIView):
    """One user's ledger, newest first; filter with ?type=payment|generation|…"""

    reads = ("users.view_telegramuser", "billing.view_operation")

    serializer_class = OperationOutput
    pagination_class = LatestFirst
    filterset_class = OperationFilter
    queryset = Operation.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        user = get_object_or_404(TelegramUser, pk=self.kwargs["user_id"])
        return Operation.objects.filter(user=user)


class UserBalanceView(APIView):
    reads = ("users.view_telegramuser", "billing.view_balance")

    @extend_schema(responses=answers(BalanceOutput, missing=NO_SUCH_USER), summary="One user's balance")
    def get(self, request: Request, user_id: int) -> Response:
        get_object_or_404(TelegramUser, pk=user_id)
        data = {"user_id": user_id, "balance": get_user_balance(user_id), "unit": settings.BILLING_UNIT}
        return Response(BalanceOutput(data).data)


class LLMCostsView(APIView):
    """Requests, tokens, cash and earned revenue, LLM cost (background apart) and margin per group;
    `?format=csv` gives the same rows as a spreadsheet."""

    reads = ("llm.view_llmrequest", "billing.view_operation")

    @extend_schema(
        parameters=[CostsInput, AS_CSV],
        responses=answers(CostsRowOutput(many=True), validates=True, as_csv="The same rows"),
        summary="Requests, tokens, cash and earned revenue, LLM cost and margin",
    )
    def get(self, request: Request) -> Response | HttpResponse:
        params = query_params(CostsInput, request)
        rows = revenue_rows(params["start"], params["end"], GROUPINGS[params["group_by"]])
        data = CostsRowOutput(rows, many=True).data
        if request.query_params.get("format") != "csv":
            return Response(data)
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="llm-costs-by-{params["group_by"]}.csv"'
        writer = csv.writer(response)
        writer.writerow(CostsRowOutput().fields)
        writer.writerows([("" if value is None else value) for value in row.values()] for row in data)
        return response


class JourneyStagesView(APIView):
    reads = ("users.view_telegramuser", "billing.view_payment")

    @extend_schema(
        responses=answers(JourneyStageOutput(many=True)), summary="Users and buyers at each hero's-journey stage"
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.journey_stage_distribution())
