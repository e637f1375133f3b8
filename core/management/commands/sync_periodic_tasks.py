from django.core.management.base import BaseCommand

from core.schedule import sync_periodic_tasks


class Command(BaseCommand):
    help = "Write the periodic schedule declared in code into django-celery-beat's tables."

    def handle(self, *args: object, **options: object) -> None:
        created, updated = sync_periodic_tasks()
        self.stdout.write(f"Periodic tasks: {created} created, {updated} updated.")
