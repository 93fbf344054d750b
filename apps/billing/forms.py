from decimal import Decimal

from django import forms

from .exceptions import BillingError
from .models import Operation
from .services import ledger_apply


class BalanceAdjustmentForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=4, help_text="Signed: 10 adds, -10 takes away")
    reason = forms.CharField(max_length=200, help_text="Required: why the balance changes (kept in the ledger)")

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return amount


def ledger_apply_from(form: forms.Form, *, user_id: int, type: int, staff) -> Operation | None:
    """The ledger operation a staff member's valid form asks for (its amount and reason, with their name); None,
    with the ledger's refusal on the form's amount, when the ledger refuses it."""
    try:
        return ledger_apply(
            user_id=user_id,
            type=type,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            staff=staff,
        )
    except BillingError as error:
        form.add_error("amount", str(error))
        return None
