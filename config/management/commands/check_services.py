from django.core.management.base import BaseCommand

from config.env import ConfigError
from config.health import run_checks


class Command(BaseCommand):
    help = "Check that the database, cache, channel layer, search engine and clamd answer."

    def add_arguments(self, parser):
        parser.add_argument(
            "--require-search",
            action="store_true",
            help="treat an unreachable search engine as an error, not a degradation",
        )

    def handle(self, *args, require_search=False, **options):
        status, checks = run_checks()
        failed = [
            (part, result)
            for part, result in checks.items()
            if not result["ok"] and (result["required"] or require_search)
        ]
        for part, result in checks.items():
            if not result["ok"] and (part, result) not in failed:
                self.stderr.write(
                    f"warning: {result['variable']}: {part} unreachable, "
                    f"falling back ({result['error']})"
                )
        if failed:
            part, result = failed[0]
            raise ConfigError(result["variable"], f"{part} unreachable ({result['error']})")
        self.stdout.write(
            f"services {status}: "
            + ", ".join(
                f"{part} {'ok' if result['ok'] else 'unreachable'}"
                for part, result in checks.items()
            )
        )
