from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Protectors' Portal"

    def ready(self):
        # Importing these connects their signal receivers (the audit log's, signing out's, the
        # immediate search alerts') and registers threads with search.
        from portal import alerts, audit, search_source  # noqa: F401
        from portal.actions import admission  # noqa: F401
