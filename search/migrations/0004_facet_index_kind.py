"""The SQLite facet index also covers the entries' kind, which the content facet counts."""

from django.db import migrations


def recreate_facet_index(apps, schema_editor):
    from search.backends.database import FACET_INDEX, install_fulltext

    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {FACET_INDEX}")
        install_fulltext(connection)


class Migration(migrations.Migration):
    dependencies = [("site_search", "0003_seed_synonyms")]

    operations = [
        migrations.RunPython(recreate_facet_index, migrations.RunPython.noop, elidable=False)
    ]
