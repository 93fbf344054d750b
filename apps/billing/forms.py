from decimal import Decimal

from django import forms


class BalanceAdjustmentForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=4, help_text="Signed: 10 adds, -10 takes away")
    reason = forms.CharField(max_length=200, help_text="Required: why the balance changes (kept in the ledger)")

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return amount
