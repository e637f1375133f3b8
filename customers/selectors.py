"""Reads on customers that matter: look-ups by e-mail, the admin's and the API's list shapes."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import ConsentEvent, Customer, Segment


def customer_get_by_email(email: str) -> Customer | None:
    """The customer with this e-mail, compared case-insensitively (uses the lower(email) index)."""
    return Customer.objects.filter(email__lower=email.strip().lower()).first()


def customer_list() -> QuerySet[Customer]:
    """Customers with their tags prefetched: a constant number of queries per page."""
    return Customer.objects.prefetch_related("tags")


def customer_consent_history(customer: Customer) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(customer=customer).select_related("recorded_by", "partner")


def segment_list() -> QuerySet[Segment]:
    """Active segments, for partners: their size and refresh time come from the last refresh."""
    return Segment.objects.filter(is_active=True)
