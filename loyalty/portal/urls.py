from django.urls import path

from loyalty.portal import views

app_name = "loyalty_portal"

urlpatterns = [
    path("history/", views.history, name="history"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/<int:reward_id>/redeem/", views.reward_redeem, name="reward-redeem"),
    path("vouchers/", views.vouchers, name="vouchers"),
    path("vouchers/<str:code>/", views.voucher, name="voucher"),
]
