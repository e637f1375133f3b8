from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Language

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


def _to_bool(value: str) -> bool:
    return value == "true"


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(method="filter_email", help_text=_("Exact e-mail, any case."))
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices)
    language = django_filters.ChoiceFilter(choices=Language.choices)
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", distinct=True)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    email_consent = django_filters.TypedChoiceFilter(
        choices=BOOLEAN_CHOICES, coerce=_to_bool, help_text=_("true or false.")
    )
    sms_consent = django_filters.TypedChoiceFilter(
        choices=BOOLEAN_CHOICES, coerce=_to_bool, help_text=_("true or false.")
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_email(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return queryset.filter(email__lower=value.strip().lower())
