"""What Botdesk holds about one user, as a JSON document: what /mydata sends them and what staff download
from the user's admin page. Every record that names the user, and only those."""

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, QuerySet

from apps.analytics.models import AnalyticsEvent
from apps.billing.models import Balance, Operation, Payment, Subscription
from apps.bot import static_text
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer
from apps.journey.models import JourneyProgress
from apps.llm.models import LLMRequest
from apps.sessions.models import UserSession
from apps.users.models import TelegramUser, UserActivityLog, UserActivityLogArchive

# Staff bookkeeping on the user's row, not data about the person.
_PROFILE_LEFT_OUT = {"staff_account_id"}


class _Encoder(DjangoJSONEncoder):
    """Django's, but times to the microsecond as stored (Django's stops at milliseconds)."""

    def default(self, o: Any) -> Any:
        return o.isoformat() if isinstance(o, datetime) else super().default(o)


def _record(row: Model, *, leave_out: set[str] = frozenset()) -> dict[str, Any]:
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if f.attname not in leave_out}


def _records(rows: QuerySet) -> list[dict[str, Any]]:
    return [_record(row) for row in rows.order_by("pk")]


def user_data(user_id: int) -> dict[str, Any] | None:
    """Everything stored about the user (None: no such user), JSON-ready once through `user_data_json`."""
    user = TelegramUser.objects.filter(pk=user_id).first()
    if user is None:
        return None
    balance = Balance.objects.filter(user_id=user_id).values_list("amount", flat=True).first()
    return {
        "profile": _record(user, leave_out=_PROFILE_LEFT_OUT),
        "journey": _records(JourneyProgress.objects.filter(user_id=user_id)),
        "sessions": _records(UserSession.objects.filter(user_id=user_id)),
        "balance": balance,
        # Holds and their releases included: each is a record of the ledger.
        "operations": _records(Operation.objects.filter(user_id=user_id)),
        "payments": _records(Payment.objects.filter(user_id=user_id)),
        "subscriptions": _records(Subscription.objects.filter(user_id=user_id)),
        "events": _records(AnalyticsEvent.objects.filter(user_id=user_id)),
        # Prompts and answers are here only where STORE_PROMPTS kept them.
        "llm_requests": _records(LLMRequest.objects.filter(user_id=user_id)),
        "activity": _records(UserActivityLog.objects.filter(user_id=user_id))
        + _records(UserActivityLogArchive.objects.filter(user_id=user_id)),
    }


def user_data_json(user_id: int) -> str | None:
    """The user's data as JSON: amounts as strings (exact), times in ISO 8601."""
    data = user_data(user_id)
    return None if data is None else json.dumps(data, cls=_Encoder, ensure_ascii=False, indent=2)


def export_filename(user_id: int) -> str:
    return f"botdesk-data-{user_id}.json"


def export_answer(user_id: int) -> Answer:
    """/mydata: the user's data as a file, with a short caption."""
    content = user_data_json(user_id) or "{}"
    document = {"filename": export_filename(user_id), "content": content, "caption": str(static_text.EXPORT_CAPTION)}
    return Answer([document], kind=ReplyKind.DOCUMENT)
