from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from customers.models import Language, User
from customers.selectors import customer_get_by_email
from referrals.services import referral_code_find, referral_code_normalise


class JoinForm(forms.Form):
    """Sign-up for the portal. The code is optional; one given must belong to a member."""

    first_name = forms.CharField(
        label=_("First name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    email_consent = forms.BooleanField(label=_("Send me offers and news by e-mail"), required=False)
    code = forms.CharField(
        label=_("Referral code (optional)"),
        max_length=20,
        required=False,
        help_text=_("A friend's code: you both get a reward after your first purchase."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    error_messages = {
        "email_taken": _("An account with this e-mail address exists already. Sign in instead."),
        "unknown_code": _("We do not know this referral code. Check it, or leave the field empty."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"]
        if customer_get_by_email(email) is not None:
            raise forms.ValidationError(self.error_messages["email_taken"], code="email_taken")
        return email

    def clean_code(self) -> str:
        code = referral_code_normalise(self.cleaned_data.get("code") or "")
        if code and referral_code_find(code) is None:
            raise forms.ValidationError(self.error_messages["unknown_code"], code="unknown_code")
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            # Checked against the names and the address too: "aino.virtanen1" is refused for Aino.
            user = User(
                username=cleaned.get("email", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned
