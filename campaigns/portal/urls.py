from django.urls import path

from campaigns.portal import views

app_name = "campaigns-portal"

urlpatterns = [
    path("gifts/", views.gifts, name="gifts"),
    path("gifts/<int:recipient_id>/choose/", views.gift_choose, name="gift-choose"),
    path("contests/<int:campaign_id>/enter/", views.contest_enter, name="contest-enter"),
    path("contests/<int:campaign_id>/free-entry/", views.contest_free_entry, name="contest-free-entry"),
    path("contests/wins/<int:winner_id>/", views.contest_win_respond, name="contest-win-respond"),
]
