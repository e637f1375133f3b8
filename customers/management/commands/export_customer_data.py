from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.models import Customer
from customers.privacy import customer_data_export_json


class Command(BaseCommand):
    help = "Print everything held about one customer (their public id) as JSON, as the portal's download."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("public_id", help="The customer's public id (UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            public_id = uuid.UUID(options["public_id"])
        except ValueError as error:
            raise CommandError(f"Not a public id: {options['public_id']!r}.") from error
        customer = Customer.objects.filter(public_id=public_id).first()
        if customer is None:
            raise CommandError(f"No customer has the public id {public_id}.")
        self.stdout.write(customer_data_export_json(customer))
