from django.urls import path, register_converter

from loyalty.api import views
from loyalty.api.serializers import EXTERNAL_ID_MAX_LENGTH


class ExternalIdConverter:
    """A partner's external id in a path: may contain slashes (send them as is or as %2F); a NUL
    character or more than 100 characters matches nothing (404), so no database ever sees one."""

    regex = ".+"

    def to_python(self, value: str) -> str:
        if len(value) > EXTERNAL_ID_MAX_LENGTH or "\x00" in value:
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExternalIdConverter, "external_id")

urlpatterns = [
    path("customers/<uuid:public_id>/loyalty/", views.CustomerLoyaltyView.as_view(), name="customer-loyalty"),
    path("customers/<uuid:public_id>/ledger/", views.CustomerLedgerView.as_view(), name="customer-ledger"),
    path("purchases/", views.PurchaseCreateView.as_view(), name="purchase-list"),
    path("purchases/<external_id:external_id>/refunds/", views.RefundCreateView.as_view(), name="purchase-refund-list"),
    path("rewards/", views.RewardListView.as_view(), name="reward-list"),
    path("redemptions/", views.RedemptionCreateView.as_view(), name="redemption-list"),
    # <str:code> matches any segment: the service normalises it (case, dashes) before looking it up.
    path("vouchers/<str:code>/", views.VoucherDetailView.as_view(), name="voucher-detail"),
    path("vouchers/<str:code>/redeem/", views.VoucherRedeemView.as_view(), name="voucher-redeem"),
]
