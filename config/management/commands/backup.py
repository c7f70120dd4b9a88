"""`manage.py backup FOLDER`: what a restore needs, written to FOLDER: the database as pg_dump's
custom-format archive (database.dump), MEDIA_ROOT's uploaded documents and images
(media.tar.gz), and PRIVATE_FILES_ROOT's attachments and quarantined evidence (private.tar.gz).
Redis holds nothing to keep and the search index is rebuilt from the database (`search_reindex`).

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
        for name, root in archives().items():
            with tarfile.open(folder / name, "w:gz") as archive:
                if Path(root).is_dir():
                    archive.add(root, arcname=".")
        self.stdout.write(
            f"backed up the database and {', '.join(map(str, archives().values()))} to {folder}"
        )


def archives():
    """The folders of files a backup keeps, by the name of their archive: uploaded documents and
    images, and members' attachments with the quarantine's evidence (when they are stored on
    disk; buckets keep their own copies)."""
    return {
        "media.tar.gz": settings.MEDIA_ROOT,
        "private.tar.gz": settings.PRIVATE_FILES_ROOT,
    }
