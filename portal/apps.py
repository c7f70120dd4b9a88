from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Protectors' Portal"

    def ready(self):
        from portal import audit  # noqa: F401 - connects the audit log's signal receivers
