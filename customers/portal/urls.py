from django.urls import path

from customers.portal import feedback, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("login/link/", views.magic_link_request, name="magic-link"),
    path("login/link/<str:token>/", views.magic_link_login, name="magic-link-login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.password, name="password"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("feedback/", feedback.overview, name="feedback"),
    path("feedback/complaints/<int:complaint_id>/", feedback.complaint, name="complaint"),
    path("feedback/<str:token>/", feedback.survey, name="survey"),
    path("feedback/<str:token>/thanks/", feedback.survey_thanks, name="survey-thanks"),
]
