from django.urls import include, path

from campaigns.api import views

urlpatterns = [
    path("campaigns/", views.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/effect/", views.CampaignEffectView.as_view(), name="campaign-effect"),
    path("", include("campaigns.api.shipments")),
]
