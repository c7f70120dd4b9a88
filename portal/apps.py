from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Protectors' Portal"

    def ready(self):
        # Importing these connects their signal receivers (the audit log's, signing out's,
        # deleting files with their rows, the immediate search alerts') and registers threads
        # with search.
        from portal import alerts, audit, search_source  # noqa: F401
        from portal.actions import admission, attachments  # noqa: F401
        from portal.attachments import checks  # noqa: F401
