"""The campaign admin's shipping pages: the warehouse's CSV, and a CSV of status updates sent back.

``ShipmentAdminMixin`` adds two pages under a campaign's change page::

    <id>/shipments/csv/     admin:campaigns_campaign_shipments_csv      (view permission)
    <id>/shipments/upload/  admin:campaigns_campaign_shipments_upload   (change permission)

and ``admin/campaigns/campaign/shipment_tools.html`` holds the two links for the change page's
object tools. Both pages go through ``campaigns.shipments``; the upload writes all rows or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns import shipments
from campaigns.models import Campaign

SHIPMENTS_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
SHIPMENTS_ERRORS_SHOWN = 50


class ShipmentUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns named on the first row: recipient_id or email, status, and optionally tracking_code. "
            "The warehouse CSV downloaded here can be sent back as it is."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > SHIPMENTS_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s.") % {"size": filesizeformat(SHIPMENTS_UPLOAD_MAX_BYTES)},
                code="too_large",
            )
        return upload


class ShipmentAdminMixin(admin.ModelAdmin):
    """Put in front of the campaign's ModelAdmin: ``class CampaignAdmin(ShipmentAdminMixin, ...)``."""

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        shipment_urls = [
            path(
                "<path:object_id>/shipments/csv/",
                self.admin_site.admin_view(self.shipments_csv_view),
                name="{}_{}_shipments_csv".format(*info),
            ),
            path(
                "<path:object_id>/shipments/upload/",
                self.admin_site.admin_view(self.shipments_upload_view),
                name="{}_{}_shipments_upload".format(*info),
            ),
        ]
        return [*shipment_urls, *super().get_urls()]

    def _shipment_campaign(self, request: HttpRequest, object_id: str) -> Campaign | None:
        request.current_app = self.admin_site.name
        campaign: Campaign | None = self.get_object(request, unquote(object_id))
        return campaign

    def shipments_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The warehouse's CSV of the campaign's shipments (``?status=allocated`` for one status),
        streamed, with a byte order mark so that spreadsheets read it as UTF-8."""
        campaign = self._shipment_campaign(request, object_id)
        if campaign is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        asked = request.GET.get("status", "")
        status = asked if asked in shipments.SHIPMENT_STATUSES else None

        def lines() -> Iterator[str]:
            yield "\ufeff"
            yield from shipments.shipments_csv_lines(campaign=campaign, status=status)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        suffix = f"-{status}" if status else ""
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-shipments{suffix}.csv"'
        return response

    def shipments_upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A CSV of shipment updates: applied whole, or refused with every bad row as a form error."""
        campaign = self._shipment_campaign(request, object_id)
        if campaign is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        form = ShipmentUploadForm(request.POST, request.FILES) if request.method == "POST" else ShipmentUploadForm()
        if request.method == "POST" and form.is_valid():
            report = shipments.shipments_import_csv(
                campaign=campaign,
                data=form.cleaned_data["file"].read(),
                by=request.user,  # type: ignore[arg-type]
            )
            if report.is_valid:
                self.message_user(
                    request,
                    _("%(updated)s shipments updated, %(unchanged)s already up to date.")
                    % {"updated": report.updated, "unchanged": report.unchanged},
                    messages.SUCCESS,
                )
                info = (self.opts.app_label, self.opts.model_name)
                return HttpResponseRedirect(
                    reverse("admin:{}_{}_change".format(*info), args=[campaign.pk], current_app=self.admin_site.name)
                )
            for error in _error_lines(report):
                form.add_error(None, error)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Upload shipment updates for %(campaign)s") % {"campaign": campaign},
            "opts": self.opts,
            "campaign": campaign,
            "form": form,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/shipments_upload.html", context)


def _error_lines(report: shipments.ShipmentImportReport) -> list[str]:
    """The report's errors as form errors: the first ``SHIPMENTS_ERRORS_SHOWN``, then how many more."""
    lines = [str(_("Nothing was changed."))]
    for error in report.errors[:SHIPMENTS_ERRORS_SHOWN]:
        if error.row is None:
            lines.append(error.message)
        else:
            lines.append(str(_("Row %(row)d: %(message)s") % {"row": error.row, "message": error.message}))
    hidden = len(report.errors) - SHIPMENTS_ERRORS_SHOWN
    if hidden > 0:
        lines.append(
            ngettext("... and %(count)d more error.", "... and %(count)d more errors.", hidden) % {"count": hidden}
        )
    return lines
