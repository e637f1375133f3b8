from django.urls import path

from customers.portal import feedback, privacy, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("login/link/", views.magic_link_request, name="magic-link"),
    path("login/link/<str:token>/", views.magic_link_login, name="magic-link-login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.password, name="password"),
    path("password/reset/", views.password_reset_request, name="password-reset"),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        views.PortalPasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("verify/resend/", views.email_verify_resend, name="email-verify-resend"),
    path("verify/<str:token>/", views.email_verify, name="email-verify"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("feedback/", feedback.overview, name="feedback"),
    path("feedback/complaints/<int:complaint_id>/", feedback.complaint, name="complaint"),
    path("feedback/<str:token>/", feedback.survey, name="survey"),
    path("feedback/<str:token>/thanks/", feedback.survey_thanks, name="survey-thanks"),
    path("privacy/", privacy.overview, name="privacy"),
    path("privacy/download/", privacy.download, name="privacy-download"),
    path("privacy/delete/", privacy.delete, name="privacy-delete"),
    path("privacy/goodbye/", privacy.goodbye, name="privacy-goodbye"),
]
