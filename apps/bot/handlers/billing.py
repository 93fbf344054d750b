from asgiref.sync import sync_to_async
from django.conf import settings
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update

from apps.billing.models import CreditPackage, OperationType
from apps.billing.selectors import active_packages, package_for_sale
from apps.billing.services import (
    STARS_CURRENCY,
    credits_text,
    get_user_balance,
    get_user_operations,
    invoice_payload,
    payment_problem,
    payment_record,
)
from apps.bot import static_text
from apps.bot.context import BotContext

BUY_MENU = "buy:menu"
BUY_PREFIX = "buy:"


def topup_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(static_text.BUY_BUTTON, callback_data=BUY_MENU)]])


def _packages_keyboard(packages: list[CreditPackage]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"{p.title}: {credits_text(p.credits)} {settings.BILLING_UNIT} for {p.stars} ⭐",
                    callback_data=f"{BUY_PREFIX}{p.pk}",
                )
            ]
            for p in packages
        ]
    )


async def buy(update: Update, context: BotContext) -> None:
    packages = await sync_to_async(active_packages)()
    if not packages:
        await update.effective_message.reply_text(static_text.NO_PACKAGES, do_quote=False)
        return
    await update.effective_message.reply_text(
        static_text.CHOOSE_PACKAGE, reply_markup=_packages_keyboard(packages), do_quote=False
    )


async def buy_choice(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await query.answer()
    if query.data == BUY_MENU:
        await buy(update, context)
        return
    package = await sync_to_async(package_for_sale)(query.data.removeprefix(BUY_PREFIX))
    if package is None:
        await query.message.reply_text(static_text.NO_PACKAGES, do_quote=False)
        return
    await context.bot.send_invoice(
        chat_id=query.message.chat.id,
        title=package.title,
        description=f"{credits_text(package.credits)} {settings.BILLING_UNIT}",
        payload=invoice_payload(package=package, user_id=query.from_user.id),
        provider_token="",  # Telegram Stars need none
        currency=STARS_CURRENCY,
        prices=[LabeledPrice(package.title, package.stars)],
    )


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
    payment, credited = await sync_to_async(payment_record)(
        user_id=update.effective_user.id,
        payload=paid.invoice_payload,
        currency=paid.currency,
        total_amount=paid.total_amount,
        charge_id=paid.telegram_payment_charge_id,
        provider_charge_id=paid.provider_payment_charge_id or "",
    )
    if not credited:  # no offer matched, or Telegram repeated a payment already thanked for
        return
    balance = await sync_to_async(get_user_balance)(update.effective_user.id)
    await update.effective_message.reply_text(
        static_text.PAYMENT_THANKS.format(
            credits=credits_text(payment.credits), balance=credits_text(balance), unit=settings.BILLING_UNIT
        ),
        do_quote=False,
    )


async def balance(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    amount = await sync_to_async(get_user_balance)(user_id)
    operations = await sync_to_async(get_user_operations)(user_id, limit=5)
    lines = [static_text.BALANCE.format(balance=credits_text(amount), unit=settings.BILLING_UNIT)]
    for op in operations:
        sign = "+" if op.amount > 0 else ""
        lines.append(f"{op.created_at:%d.%m %H:%M}  {OperationType(op.type).label}  {sign}{credits_text(op.amount)}")
    await update.effective_message.reply_text("\n".join(lines), reply_markup=topup_keyboard(), do_quote=False)
