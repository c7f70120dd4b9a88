"""`manage.py restore FOLDER`: a backup (`manage.py backup`) into an EMPTY database, MEDIA_ROOT and
PRIVATE_FILES_ROOT.

It refuses a database that already has tables, so it never mixes a backup into a live site.
Afterwards run the release step (migrate, collectstatic) and `search_reindex`, as after any
deploy. Like backup, it talks to PostgreSQL itself, not through PgBouncer.
"""

import tarfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from config.management.commands.backup import archives
from config.management.postgres_tools import run_tool


class Command(BaseCommand):
    help = "Restore a backup written by `manage.py backup` into an empty database."

    def add_arguments(self, parser):
        parser.add_argument("folder")

    def handle(self, folder, **options):
        folder = Path(folder)
        for name in ("database.dump", *archives()):
            if not (folder / name).is_file():
                raise CommandError(f"{folder} holds no {name}: is it a backup folder?")
        tables = connection.introspection.table_names()
        connection.close()
        if tables:
            raise CommandError(
                f"the database already has {len(tables)} tables; restore only into an empty one"
            )
        run_tool(
            "pg_restore",
            f"--dbname={connection.settings_dict['NAME']}",  # it reads no PGDATABASE
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            str(folder / "database.dump"),
        )
        for name, root in archives().items():
            Path(root).mkdir(parents=True, exist_ok=True)
            with tarfile.open(folder / name) as archive:
                archive.extractall(root, filter="data")
        self.stdout.write(f"restored the database and the files from {folder}")
