from asgiref.sync import sync_to_async
from telegram import LabeledPrice, Update

from apps.billing.models import Payment
from apps.billing.selectors import (
    active_packages,
    active_plans,
    active_streams,
    live_subscription,
    package_for_sale,
    plan_for_sale,
    stream_for_sale,
)
from apps.billing.services import (
    STARS_CURRENCY,
    SUBSCRIPTION_PERIOD,
    get_user_balance,
    invoice_payload,
    payment_problem,
    payment_record,
    payment_refund_record,
    payment_thanked,
    tracked_url,
)
from apps.bot import keyboards, static_text
from apps.bot.context import BotContext
from apps.bot.flows.account import balance_statement, date_text
from apps.bot.keyboards import BUY_MENU, BUY_PREFIX, PLAN_PREFIX, STREAM_PREFIX
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer, reply_find
from apps.core.money import amount_text, credits_phrase, credits_unit

from .answering import acknowledge, answer


async def buy(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: _offers(user_id))


def _offers(user_id: int) -> Answer:
    """Packages, subscription plans and paid streams, a button each (a stream's tracked link beside it)."""
    packages, plans, streams = active_packages(), active_plans(), active_streams()
    if not (packages or plans or streams):
        return Answer([str(static_text.NO_PACKAGES)])
    rows = [
        [(static_text.PACKAGE_OFFER.format(title=p.title, credits=credits_phrase(p.credits), stars=_stars(p.stars)),
          f"{BUY_PREFIX}{p.pk}")]
        for p in packages
    ]  # fmt: skip
    rows += [
        [(static_text.PLAN_OFFER.format(title=p.title, credits=credits_phrase(p.credits), stars=_stars(p.stars)),
          f"{PLAN_PREFIX}{p.pk}")]
        for p in plans
    ]  # fmt: skip
    for stream in streams:
        row = [
            (
                static_text.STREAM_OFFER.format(title=stream.title, stars=_stars(stream.stars)),
                f"{STREAM_PREFIX}{stream.pk}",
            )
        ]
        about = tracked_url(stream.about_link, user_id) if stream.about_link else None
        if about:
            row.append((static_text.STREAM_ABOUT.format(title=stream.title), about))
        rows.append(row)
    text = static_text.CHOOSE_OFFER if plans or streams else static_text.CHOOSE_PACKAGE
    return Answer([str(text)], keyboards.buttons(rows))


def _stars(stars: int) -> str:
    return amount_text(stars, 0)


async def buy_choice(update: Update, context: BotContext) -> None:
    query = update.callback_query
    user_id = query.from_user.id
    await acknowledge(query)
    if query.data == BUY_MENU:
        await answer(update, context, lambda: _offers(user_id))
    elif query.data.startswith(PLAN_PREFIX):
        await _plan_link(update, context, query.data.removeprefix(PLAN_PREFIX))
    elif query.data.startswith(STREAM_PREFIX):
        await answer(update, context, lambda: _stream_invoice(user_id, query.data.removeprefix(STREAM_PREFIX)))
    else:
        await answer(update, context, lambda: _package_invoice(user_id, query.data.removeprefix(BUY_PREFIX)))


def _package_invoice(user_id: int, package_id: str) -> Answer:
    package = package_for_sale(package_id)
    if package is None:
        return Answer([str(static_text.NO_PACKAGES)])
    description = static_text.INVOICE_DESCRIPTION.format(credits=credits_phrase(package.credits))
    return _invoice(package.title, description, invoice_payload(package=package, user_id=user_id), package.stars)


def _stream_invoice(user_id: int, stream_id: str) -> Answer:
    stream = stream_for_sale(stream_id)
    if stream is None:
        return Answer([str(static_text.NO_PACKAGES)])
    description = static_text.STREAM_INVOICE_DESCRIPTION.format(title=stream.title)
    return _invoice(stream.title, description, invoice_payload(stream=stream, user_id=user_id), stream.stars)


def _invoice(title: str, description: str, payload: str, stars: int) -> Answer:
    fields = {
        "title": title,
        "description": str(description),
        "payload": payload,
        "currency": STARS_CURRENCY,
        "prices": [[title, stars]],
    }
    return Answer([fields], kind=ReplyKind.INVOICE)


async def _plan_link(update: Update, context: BotContext, plan_id: str) -> None:
    """A subscription is sold with an invoice link (createInvoiceLink with a subscription period), sent as a
    button. The link is made once per update: a redelivery sends the stored answer."""
    user_id = update.effective_user.id
    link = None
    if await sync_to_async(reply_find)(update.update_id) is None:
        offer = await sync_to_async(_plan_offer)(user_id, plan_id)
        if isinstance(offer, dict):
            link = await context.bot.create_invoice_link(
                **offer, provider_token="", subscription_period=int(SUBSCRIPTION_PERIOD.total_seconds())
            )
    await answer(update, context, lambda: _plan_answer(user_id, plan_id, link))


def _plan_offer(user_id: int, plan_id: str) -> dict | None:
    """createInvoiceLink's fields for the plan (its invoice recorded), or None: not on sale, or the user
    already subscribed."""
    plan = plan_for_sale(plan_id)
    if plan is None or live_subscription(user_id) is not None:
        return None
    description = static_text.PLAN_INVOICE_DESCRIPTION.format(credits=credits_phrase(plan.credits))
    fields = _invoice(plan.title, description, invoice_payload(plan=plan, user_id=user_id), plan.stars).parts[0]
    return {**fields, "prices": [LabeledPrice(label, amount) for label, amount in fields["prices"]]}


def _plan_answer(user_id: int, plan_id: str, link: str | None) -> Answer:
    if (subscription := live_subscription(user_id)) is not None:
        text = static_text.ALREADY_SUBSCRIBED.format(title=subscription.title, until=date_text(subscription.expires_at))
        return Answer([text])
    plan = plan_for_sale(plan_id)
    if plan is None or link is None:
        return Answer([str(static_text.NO_PACKAGES)])
    text = static_text.PLAN_LINK.format(
        title=plan.title, credits=credits_phrase(plan.credits), stars=_stars(plan.stars)
    )
    button = static_text.PLAN_LINK_BUTTON.format(stars=_stars(plan.stars))
    return Answer([text], keyboards.buttons([[(button, link)]]))


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Telegram waits at most 10 seconds for this answer."""
    query = update.pre_checkout_query
    problem = await sync_to_async(payment_problem)(
        user_id=query.from_user.id,
        payload=query.invoice_payload,
        currency=query.currency,
        total_amount=query.total_amount,
    )
    if problem is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=problem)


async def successful_payment(update: Update, context: BotContext) -> None:
    paid = update.effective_message.successful_payment
    payment, _ = await sync_to_async(payment_record)(
        user_id=update.effective_user.id,
        payload=paid.invoice_payload,
        currency=paid.currency,
        total_amount=paid.total_amount,
        charge_id=paid.telegram_payment_charge_id,
        provider_charge_id=paid.provider_payment_charge_id or "",
        period_end=paid.subscription_expiration_date,
    )
    # Thanked once per payment: not when it is none of ours or was thanked for already, and again if the
    # worker that credited it died before the thanks reached Telegram (the update is processed again).
    if payment is None or payment.thanked_at is not None:
        return
    thanks = await sync_to_async(_thanks)(payment)
    await update.effective_message.reply_text(thanks, do_quote=False)
    await sync_to_async(payment_thanked)(payment.pk)


async def refunded_payment(update: Update, context: BotContext) -> None:
    """Telegram refunded a payment by itself (a dispute) or on a request of ours whose answer was lost: the
    refund is recorded and its credits taken back once, however often the update arrives."""
    refunded = update.effective_message.refunded_payment
    await sync_to_async(payment_refund_record)(charge_id=refunded.telegram_payment_charge_id)


def _thanks(payment: Payment) -> str:
    """Thanks for a package's credits, a subscription period's (with its end) or a paid stream (its link)."""
    if payment.stream_id is not None:
        link = payment.stream.link if payment.stream else ""
        title = payment.invoice.title if payment.invoice else payment.stream.title
        return (
            static_text.STREAM_THANKS_LINK.format(title=title, link=link)
            if link
            else static_text.STREAM_THANKS.format(title=title)
        )
    balance = get_user_balance(payment.user_id)
    credited = {"credits": amount_text(payment.credits), "balance": amount_text(balance), "unit": credits_unit(balance)}
    if payment.subscription_id is not None:
        subscription = payment.subscription
        return static_text.SUBSCRIPTION_THANKS.format(
            title=subscription.title, until=date_text(subscription.expires_at), **credited
        )
    return static_text.PAYMENT_THANKS.format(**credited)


async def balance(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: balance_statement(user_id))
