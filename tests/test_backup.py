"""`manage.py restore` goes only into an empty database and only from a backup folder. (A backup
restored into an empty database serving the same pages is tested with the deployment, in
tests/deploy.)"""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_restore_refuses_a_database_that_has_tables(tmp_path):
    for name in ("database.dump", "media.tar.gz", "private.tar.gz"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(CommandError, match="restore only into an empty one"):
        call_command("restore", str(tmp_path))


def test_restore_refuses_a_folder_that_is_no_backup(tmp_path):
    with pytest.raises(CommandError, match="holds no database.dump"):
        call_command("restore", str(tmp_path))
