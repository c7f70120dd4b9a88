"""`manage.py backup FOLDER`: what a restore needs, written to FOLDER: the database as pg_dump's
custom-format archive (database.dump) and MEDIA_ROOT's uploaded documents and images as a tar
archive (media.tar.gz). Redis holds nothing to keep and the search index is rebuilt from the
database (`search_reindex`).

Run it against PostgreSQL itself, not through PgBouncer (pg_dump sets options for its session):
`DATABASE_URL=postgres://portal@127.0.0.1:5432/portal manage.py backup /var/backups/portal/today`.
"""

import tarfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from config.management.postgres_tools import run_tool


class Command(BaseCommand):
    help = "Write the database and the uploaded media to a folder (see `manage.py restore`)."

    def add_arguments(self, parser):
        parser.add_argument("folder")

    def handle(self, folder, **options):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        run_tool("pg_dump", "--format=custom", "--no-owner", f"--file={folder / 'database.dump'}")
        with tarfile.open(folder / "media.tar.gz", "w:gz") as archive:
            archive.add(settings.MEDIA_ROOT, arcname=".")
        self.stdout.write(f"backed up the database and {settings.MEDIA_ROOT} to {folder}")
