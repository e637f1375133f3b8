"""Staff forms: the points adjustment and the earning preview."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.earning import Line
from loyalty.models import Tier


class PointsAdjustForm(forms.Form):
    amount = forms.IntegerField(
        label=_("Points"),
        help_text=_("Positive to add, negative to take away."),
        min_value=-1_000_000,
        max_value=1_000_000,
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, help_text=_("Shown on the customer's statement."))
    # One adjustment per form shown: a double submit (or a reload of the POST) adjusts once.
    nonce = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."), code="zero")
        return amount

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the points are adjusted."), code="required")
        return reason


class EarnPreviewForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    lines = forms.CharField(
        label=_("Lines"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: SKU, category, quantity, unit price. For example: ESP-1, coffee, 2, 3.50"),
    )
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.order_by("rank"), required=False)
    occurred_at = forms.DateTimeField(label=_("Time of purchase"), required=False)
    birth_month = forms.TypedChoiceField(
        label=_("Customer's birth month"),
        choices=[("", "-")] + [(str(month), str(month)) for month in range(1, 13)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    is_first_purchase = forms.BooleanField(label=_("The customer's first purchase"), required=False)

    def clean_lines(self) -> list[Line]:
        parsed = []
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [part.strip() for part in raw.split(",")]
            try:
                sku, category, quantity, price = parts
                parsed.append(Line(sku=sku, category=category, quantity=int(quantity), unit_price=Decimal(price)))
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(
                    _("Line %(number)s: write SKU, category, quantity, unit price."), params={"number": number}
                ) from None
        return parsed

    def preview_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        occurred_at = data["occurred_at"] or timezone.now()
        birth = datetime.date(1990, data["birth_month"], 1) if data["birth_month"] else None
        return {
            "amount": data["amount"],
            "lines": data["lines"],
            "occurred_at": occurred_at,
            "local_month": timezone.localtime(occurred_at).month,
            "tier": data["tier"],
            "birth_date": birth,
            "is_first_purchase": data["is_first_purchase"],
        }
