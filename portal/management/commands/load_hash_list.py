from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.attachments.hashlist import HashListError, load, read_csv


class Command(BaseCommand):
    help = (
        "Load a CSV list of PDQ hashes from a hash-sharing programme: attached images that match "
        "one are never stored where they can be served."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV: a PDQ hash per row, its quality, other columns")
        parser.add_argument("--source", required=True, help="the list's name, e.g. its programme")
        parser.add_argument("--note", default="", help="a note kept with each entry")
        parser.add_argument("--added-by", help="the staff member's e-mail address, for the record")
        parser.add_argument(
            "--min-quality",
            type=int,
            default=50,
            help="leave out hashes of lower PDQ quality, which match too much (default 50)",
        )
        parser.add_argument(
            "--replace", action="store_true", help="remove what this source held first"
        )

    def handle(self, *args, file, source, note, added_by, min_quality, replace, **options):
        source = source.strip()
        if not source or len(source) > 100:
            raise CommandError("--source: give the list a name of 1 to 100 characters")
        staff = None
        if added_by:
            staff = get_user_model().objects.filter(email__iexact=added_by, is_staff=True).first()
            if staff is None:
                raise CommandError(f"--added-by: no staff account has the address {added_by}")
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: cannot read it as UTF-8 text ({error})") from error
        try:
            listed = read_csv(text)
        except HashListError as error:
            raise CommandError(f"{file}: {error}") from error
        result = load(
            listed,
            source=source,
            added_by=staff,
            note=note[:255],
            min_quality=min_quality,
            replace=replace,
        )
        self.stdout.write(
            f"{source}: {result.added} hashes added, {result.already_listed} already listed, "
            f"{result.low_quality} below quality {min_quality} left out"
            + (f", {result.removed} removed first" if replace else "")
        )
