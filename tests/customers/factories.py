from __future__ import annotations

import factory

from customers.models import Customer, Language, Partner, SignupSource


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Partner {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    """A plain customer row. Consents and tags are set through services in the tests that need them."""

    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.fi")
    first_name = factory.Faker("first_name", locale="fi_FI")
    last_name = factory.Faker("last_name", locale="fi_FI")
    language = Language.FINNISH
    signup_source = SignupSource.API
