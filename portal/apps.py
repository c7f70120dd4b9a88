from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Protectors' Portal"

    def ready(self):
        # Importing them connects the audit log's receivers and registers threads with search.
        from portal import audit, search_source  # noqa: F401
