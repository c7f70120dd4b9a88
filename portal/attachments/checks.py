"""`manage.py check --deploy`: attachments wait for a malware scan that production must provide."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def malware_scanner(app_configs, **kwargs):
    if settings.ATTACHMENT_SCAN == "clamd" and not settings.CLAMD_URL:
        return [
            Warning(
                "CLAMD_URL is unset: no attachment can be scanned, so every one waits as "
                "pending scan and nobody can open it.",
                hint="Run clamd (deploy/README.md) and set CLAMD_URL=unix:///run/clamav/clamd.ctl "
                "or tcp://host:3310.",
                id="portal.W001",
            )
        ]
    return []
