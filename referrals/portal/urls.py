from django.urls import path

from referrals.portal import views

app_name = "referrals_portal"

urlpatterns = [
    path("r/<str:code>/", views.link_open, name="link"),
    path("r/<str:code>", views.link_open, name="link-typed"),  # typed without the slash: no redirect needed
    path("portal/join/", views.join, name="join"),
    path("portal/referrals/", views.mine, name="mine"),
]
