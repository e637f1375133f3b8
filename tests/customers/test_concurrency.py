"""Real parallel requests on PostgreSQL: each thread has its own connection and transaction."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from customers.models import Customer, Partner, Tag
from customers.services import partner_key_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _parallel(call, count: int = WORKERS):
    barrier = threading.Barrier(count)

    def run(index: int):
        try:
            barrier.wait(timeout=10)
            return call(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_parallel_posts_of_one_email_create_one_customer():
    partner = Partner.objects.create(name="POS")
    _row, key = partner_key_create(partner=partner, scopes=["customers:write"])

    def post(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        email = "Aino@Example.fi" if index % 2 else "aino@example.FI"
        return client.post("/api/v1/customers/", {"email": email, "tags": ["coffee"]}, format="json")

    responses = _parallel(post)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (WORKERS - 1) + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert Customer.objects.count() == 1
    assert Tag.objects.count() == 1


def test_parallel_new_tags_are_created_once():
    partner = Partner.objects.create(name="POS")
    _row, key = partner_key_create(partner=partner, scopes=["customers:write"])

    def post(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client.post(
            "/api/v1/customers/", {"email": f"c{index}@example.fi", "tags": ["Vegan", "books"]}, format="json"
        )

    responses = _parallel(post)

    assert [response.status_code for response in responses] == [201] * WORKERS
    assert sorted(Tag.objects.values_list("name", flat=True)) in (["Vegan", "books"],)
    assert Customer.objects.filter(tags__name="books").count() == WORKERS
