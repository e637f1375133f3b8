from django.apps import AppConfig
from django.db.models import CharField
from django.db.models.functions import Lower
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # `email__lower=...` and friends: filters that use the lower(...) unique indexes.
        CharField.register_lookup(Lower)
        from core.schedule import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="core.sync_periodic_tasks")
