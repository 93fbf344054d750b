from asgiref.sync import sync_to_async
from telegram import Update

from apps.billing.selectors import active_packages, package_for_sale
from apps.billing.services import (
    STARS_CURRENCY,
    get_user_balance,
    invoice_payload,
    payment_problem,
    payment_record,
    payment_thanked,
)
from apps.bot import keyboards, static_text
from apps.bot.context import BotContext
from apps.bot.flows.account import balance_statement
from apps.bot.keyboards import BUY_MENU, BUY_PREFIX
from apps.bot.language import amount_text, credits_phrase, credits_unit
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer

from .answering import acknowledge, answer


async def buy(update: Update, context: BotContext) -> None:
    await answer(update, context, _packages_offer)


def _packages_offer() -> Answer:
    packages = active_packages()
    if not packages:
        return Answer([str(static_text.NO_PACKAGES)])
    offers = [
        [
            (
                static_text.PACKAGE_OFFER.format(title=p.title, credits=credits_phrase(p.credits), stars=p.stars),
                f"{BUY_PREFIX}{p.pk}",
            )
        ]
        for p in packages
    ]
    return Answer([str(static_text.CHOOSE_PACKAGE)], keyboards.buttons(offers))


async def buy_choice(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await acknowledge(query)
    if query.data == BUY_MENU:
        await answer(update, context, _packages_offer)
        return

    def invoice() -> Answer:
        package = package_for_sale(query.data.removeprefix(BUY_PREFIX))
        if package is None:
            return Answer([str(static_text.NO_PACKAGES)])
        fields = {
            "title": package.title,
            "description": static_text.INVOICE_DESCRIPTION.format(credits=credits_phrase(package.credits)),
            "payload": invoice_payload(package=package, user_id=query.from_user.id),
            "currency": STARS_CURRENCY,
            "prices": [[package.title, package.stars]],
        }
        return Answer([fields], kind=ReplyKind.INVOICE)

    await answer(update, context, invoice)


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
    )
    # Thanked once per payment: not when it is none of ours or was thanked for already, and again if the
    # worker that credited it died before the thanks reached Telegram (the update is processed again).
    if payment is None or payment.thanked_at is not None:
        return
    balance = await sync_to_async(get_user_balance)(update.effective_user.id)
    await update.effective_message.reply_text(
        static_text.PAYMENT_THANKS.format(
            credits=amount_text(payment.credits), balance=amount_text(balance), unit=credits_unit(balance)
        ),
        do_quote=False,
    )
    await sync_to_async(payment_thanked)(payment.pk)


async def balance(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: balance_statement(user_id))
