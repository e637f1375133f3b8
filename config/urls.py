from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import views as core_views

api_v1 = [
    path("", include("customers.api.urls")),
    path("", include("loyalty.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("referrals.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include("customers.portal.urls")),
    path("portal/", include("loyalty.portal.urls")),
    path("portal/", include("campaigns.portal.urls")),
    path("", include("referrals.portal.urls")),  # /r/<code>/, /portal/join/, /portal/referrals/
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ is a problem+json 404, in development (DEBUG) as in production.
    re_path(r"^api/", core_views.api_not_found),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"

admin.site.site_header = "Vastavuoro"
admin.site.site_title = "Vastavuoro"
admin.site.index_title = _("Back office")
