from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from customers.errors import UnknownScope
from customers.models import Partner, Scope
from customers.services import partner_key_create, scopes_parse


class Command(BaseCommand):
    help = "Create a partner (or reuse one by name) and issue an API key; prints the key alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Partner name, e.g. 'Helsinki POS'.")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated scopes. Known: {', '.join(Scope.values)}.",
        )
        parser.add_argument("--key-name", default="default", help="A label for the key (default: 'default').")
        parser.add_argument("--email", default="", help="The partner's technical contact e-mail.")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the key stops working (default: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("The partner name must be 1 to 100 characters.")
        try:
            scopes = scopes_parse(options["scopes"])
        except UnknownScope as exc:
            raise CommandError(exc.message) from exc
        if not scopes:
            raise CommandError("Give at least one scope with --scopes.")
        expires_at = None
        if options["expires_days"] is not None:
            if not 1 <= options["expires_days"] <= 3650:
                raise CommandError("--expires-days must be between 1 and 3650.")
            expires_at = timezone.now() + datetime.timedelta(days=options["expires_days"])
        with transaction.atomic():
            partner, created = Partner.objects.get_or_create(name=name, defaults={"contact_email": options["email"]})
            api_key, key = partner_key_create(
                partner=partner, scopes=scopes, name=options["key_name"][:50], expires_at=expires_at
            )
        verb = "Created partner" if created else "Partner exists"
        self.stdout.write(f"{verb} '{partner.name}'; new key '{api_key.name}' with scopes: {', '.join(scopes)}.")
        self.stdout.write("Store this key now; it cannot be shown again:")
        self.stdout.write(key)
