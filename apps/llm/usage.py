"""Usage rollups, kept exact under concurrency: one upsert each, with the arithmetic in the database."""

from collections.abc import Iterable
from decimal import Decimal
from functools import cache

from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from .models import DailyUsage, LLMRequest, RequestStatus, UserUsageSummary

_FAILED = ~Q(status=RequestStatus.SUCCESS)
_ADDED = ("errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost")


def _json_increment(vendor: str, column: str) -> str:
    """SQL that adds 1 to `column[key]` (a JSON object); the key is the next two parameters."""
    if vendor == "postgresql":
        return f"jsonb_set(t.{column}, ARRAY[%s], to_jsonb(COALESCE((t.{column} ->> %s)::bigint, 0) + 1))"
    return f"json_set(t.{column}, %s, COALESCE(json_extract(t.{column}, %s), 0) + 1)"


def _json_key(vendor: str, key: str) -> str:
    key = key.replace('"', "")
    return key if vendor == "postgresql" else f'$."{key}"'


@cache
def _daily_sql(vendor: str) -> str:
    table = DailyUsage._meta.db_table
    added = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in _ADDED)
    return (
        f"INSERT INTO {table} AS t (user_id, date, requests, {', '.join(_ADDED)}, models, providers) "
        f"VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (user_id, date) DO UPDATE SET requests = t.requests + 1, {added}, "
        f"models = {_json_increment(vendor, 'models')}, providers = {_json_increment(vendor, 'providers')}"
    )


@cache
def _summary_sql() -> str:
    table = UserUsageSummary._meta.db_table
    columns = ("total_errors", "prompt_tokens", "completion_tokens", "total_tokens", "total_cost", "total_latency_ms")
    added = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in columns)
    return (
        f"INSERT INTO {table} AS t (user_id, total_requests, {', '.join(columns)}, last_activity) "
        f"VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (user_id) DO UPDATE SET total_requests = t.total_requests + 1, {added}, "
        f"last_activity = CASE WHEN t.last_activity IS NULL OR EXCLUDED.last_activity > t.last_activity "
        f"THEN EXCLUDED.last_activity ELSE t.last_activity END"
    )


def _rollup_params(request: LLMRequest, connection) -> tuple[list, list]:
    """Parameters of the day's and the totals' upserts for one request."""
    vendor = connection.vendor
    failed = int(request.status != RequestStatus.SUCCESS)
    tokens = [request.prompt_tokens or 0, request.completion_tokens or 0, request.total_tokens or 0]
    cost = DailyUsage._meta.get_field("cost").get_db_prep_save(request.cost or Decimal(0), connection)
    when = UserUsageSummary._meta.get_field("last_activity").get_db_prep_save(request.created_at, connection)
    model_key, provider_key = _json_key(vendor, request.model), _json_key(vendor, request.provider)
    json_model = DailyUsage._meta.get_field("models").get_db_prep_save({request.model: 1}, connection)
    json_provider = DailyUsage._meta.get_field("providers").get_db_prep_save({request.provider: 1}, connection)
    day = timezone.localdate(request.created_at)
    daily = [request.user_id, day, failed, *tokens, cost, json_model, json_provider, model_key, model_key,
             provider_key, provider_key]  # fmt: skip
    summary = [request.user_id, failed, *tokens, cost, request.latency_ms, when]
    return daily, summary


def rollups_add(request: LLMRequest) -> None:
    """Add one stored request to its user's day and totals. Call inside the request's own transaction."""
    connection = transaction.get_connection()
    daily, summary = _rollup_params(request, connection)
    with connection.cursor() as cursor:
        cursor.execute(_daily_sql(connection.vendor), daily)
        cursor.execute(_summary_sql(), summary)


def rollups_remove(request: LLMRequest) -> None:
    """Take one stored request out of its user's day and totals, as rollups_add put it in (it moves to another
    user); a day or a total left with no request goes. Call inside the move's transaction."""
    failed = int(request.status != RequestStatus.SUCCESS)
    prompt, completion, total = request.prompt_tokens or 0, request.completion_tokens or 0, request.total_tokens or 0
    cost = request.cost or Decimal(0)
    day_of = {"user_id": request.user_id, "date": timezone.localdate(request.created_at)}
    day = DailyUsage.objects.select_for_update().filter(**day_of).first()
    if day is not None and day.requests <= 1:
        day.delete()
    elif day is not None:
        day.requests, day.errors, day.cost = day.requests - 1, day.errors - failed, day.cost - cost
        day.prompt_tokens, day.completion_tokens = day.prompt_tokens - prompt, day.completion_tokens - completion
        day.total_tokens -= total
        for counts, key in ((day.models, request.model), (day.providers, request.provider)):
            if counts.get(key, 0) > 1:
                counts[key] -= 1
            else:
                counts.pop(key, None)
        day.save()
    summary = UserUsageSummary.objects.select_for_update().filter(user_id=request.user_id).first()
    if summary is not None and summary.total_requests <= 1:
        summary.delete()
    elif summary is not None:
        summary.total_requests, summary.total_errors = summary.total_requests - 1, summary.total_errors - failed
        summary.prompt_tokens -= prompt
        summary.completion_tokens -= completion
        summary.total_tokens, summary.total_cost = summary.total_tokens - total, summary.total_cost - cost
        summary.total_latency_ms -= request.latency_ms or 0
        summary.save()


_REQUEST_FIELDS = [field for field in LLMRequest._meta.concrete_fields if not field.primary_key]


@cache
def _request_with_rollups_sql() -> str:
    """PostgreSQL: the request row and both upserts as one statement (data-modifying CTEs), so a
    record costs one round trip and, in autocommit, one commit."""
    columns = ", ".join(field.column for field in _REQUEST_FIELDS)
    values = ", ".join(["%s"] * len(_REQUEST_FIELDS))
    return (
        f"WITH request AS (INSERT INTO {LLMRequest._meta.db_table} ({columns}) VALUES ({values}) RETURNING id), "
        f"daily AS ({_daily_sql('postgresql')}), summary AS ({_summary_sql()}) SELECT id FROM request"
    )


def request_with_rollups_insert(request: LLMRequest) -> int:
    """Store a request (not saved yet) with its rollups in one statement; returns its id. PostgreSQL."""
    connection = transaction.get_connection()
    row = [field.get_db_prep_save(getattr(request, field.attname), connection) for field in _REQUEST_FIELDS]
    daily, summary = _rollup_params(request, connection)
    with connection.cursor() as cursor:
        cursor.execute(_request_with_rollups_sql(), [*row, *daily, *summary])
        return cursor.fetchone()[0]


@transaction.atomic
def rollups_rebuild(*, user_ids: Iterable[int] | None = None) -> int:
    """Recompute rollups from the request log (demo data, repairs). Returns the number of days."""
    requests = LLMRequest.objects.filter(user__isnull=False)
    if user_ids is not None:
        user_ids = list(user_ids)
        requests = requests.filter(user_id__in=user_ids)
        DailyUsage.objects.filter(user_id__in=user_ids).delete()
        UserUsageSummary.objects.filter(user_id__in=user_ids).delete()
    else:
        DailyUsage.objects.all().delete()
        UserUsageSummary.objects.all().delete()

    def zero(field: str) -> Coalesce:
        return Coalesce(Sum(field), 0)

    sums = {
        "requests": Count("id"),
        "errors": Count("id", filter=_FAILED),
        "prompt": zero("prompt_tokens"),
        "completion": zero("completion_tokens"),
        "total": zero("total_tokens"),
        "cost": Coalesce(Sum("cost"), Decimal(0)),
    }
    days: dict[tuple[int, object], DailyUsage] = {}
    per_model = (
        requests.annotate(day=TruncDate("created_at"))
        .values("user_id", "day", "model", "provider")
        .annotate(**sums)
        .order_by()
    )
    for row in per_model:
        day = days.setdefault((row["user_id"], row["day"]), DailyUsage(user_id=row["user_id"], date=row["day"]))
        day.requests += row["requests"]
        day.errors += row["errors"]
        day.prompt_tokens += row["prompt"]
        day.completion_tokens += row["completion"]
        day.total_tokens += row["total"]
        day.cost += row["cost"]
        day.models[row["model"]] = day.models.get(row["model"], 0) + row["requests"]
        day.providers[row["provider"]] = day.providers.get(row["provider"], 0) + row["requests"]
    DailyUsage.objects.bulk_create(days.values(), batch_size=2000)

    totals = requests.values("user_id").annotate(**sums, latency=zero("latency_ms"), last=Max("created_at")).order_by()
    UserUsageSummary.objects.bulk_create(
        [
            UserUsageSummary(
                user_id=row["user_id"],
                total_requests=row["requests"],
                total_errors=row["errors"],
                prompt_tokens=row["prompt"],
                completion_tokens=row["completion"],
                total_tokens=row["total"],
                total_cost=row["cost"],
                total_latency_ms=row["latency"],
                last_activity=row["last"],
            )
            for row in totals
        ],
        batch_size=2000,
    )
    return len(days)
