"""Billing's services, by job: the ledger (every balance change, seed 003's functions), charging per
answer, Telegram Stars, and the logs. Every name callers use is importable from here."""

from .charging import (
    billing_grant_trial,
    billing_release,
    billing_reserve,
    billing_settle,
    charge_estimate,
    charge_for_audio,
    charge_for_usage,
    is_billable,
    plan_for,
    reserves_release_stale,
)
from .credits import credits_text
from .ledger import (
    add_to_balance,
    create_operation,
    get_user_balance,
    get_user_operations,
    idempotency_hash,
    ledger_apply,
    operation_key,
    update_user_balance,
)
from .links import tracked_link_visit, tracked_url
from .logs import log_debug, log_kie_operation, logs_purge
from .stars import (
    STARS_CURRENCY,
    RefundsSettled,
    invoice_payload,
    payment_problem,
    payment_record,
    payment_refund,
    payment_thanked,
    refunds_settle,
)
from .subscriptions import SUBSCRIPTION_PERIOD, subscription_set_canceled, subscriptions_lapse

__all__ = [
    "STARS_CURRENCY",
    "SUBSCRIPTION_PERIOD",
    "RefundsSettled",
    "add_to_balance",
    "billing_grant_trial",
    "billing_release",
    "billing_reserve",
    "billing_settle",
    "charge_estimate",
    "charge_for_audio",
    "charge_for_usage",
    "create_operation",
    "credits_text",
    "get_user_balance",
    "get_user_operations",
    "idempotency_hash",
    "invoice_payload",
    "is_billable",
    "ledger_apply",
    "log_debug",
    "log_kie_operation",
    "logs_purge",
    "operation_key",
    "payment_problem",
    "payment_record",
    "payment_refund",
    "payment_thanked",
    "plan_for",
    "refunds_settle",
    "reserves_release_stale",
    "subscription_set_canceled",
    "subscriptions_lapse",
    "tracked_link_visit",
    "tracked_url",
    "update_user_balance",
]
