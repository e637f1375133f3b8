from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from loyalty.verification import ledger_verify


class Command(BaseCommand):
    help = "Re-derive every points balance from the ledger; exit non-zero on any mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_verify()
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"The ledger does not add up: {len(problems)} problem(s).")
        self.stdout.write("The ledger adds up: every balance equals the sum of its entries and of its lots.")
