from django.urls import path

from referrals.api import views

urlpatterns = [
    path("referrals/", views.ReferralCreateView.as_view(), name="referral-list"),
    path("customers/<uuid:public_id>/referrals/", views.CustomerReferralsView.as_view(), name="customer-referrals"),
]
