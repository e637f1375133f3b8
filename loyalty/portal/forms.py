from __future__ import annotations

import uuid

from django import forms


class RewardRedeemForm(forms.Form):
    """The confirm step of a redemption. ``nonce`` is minted when the page is shown and makes the
    redemption's idempotency key, so submitting the same page twice redeems once."""

    nonce = forms.UUIDField(widget=forms.HiddenInput)

    @classmethod
    def fresh(cls) -> RewardRedeemForm:
        return cls(initial={"nonce": uuid.uuid4()})
