from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.demo import demo_load, demo_steps_run


class Command(BaseCommand):
    help = "Load demo partners, customers and a staff login (safe to run again: nothing is duplicated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=300, help="How many demo customers (default 300).")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("Demo data is not loaded in production (DJANGO_ENV=production).")
        if not 1 <= options["customers"] <= 100_000:
            raise CommandError("--customers must be between 1 and 100000.")
        summary = demo_load(count=options["customers"], key_file=settings.VAR_DIR / "demo-api-key.txt")
        steps = demo_steps_run()
        self.stdout.write(
            f"Demo data: {summary.customers_created} customers added, {summary.customers_total} in all.\n"
            f"  Staff (admin):    {summary.staff_email} / {summary.staff_password}\n"
            f"  Customer (portal): {summary.customer_email} / {summary.customer_password}\n"
            f"  Partner API key:  {summary.api_key}"
        )
        for line in steps:
            self.stdout.write(f"  {line}")
