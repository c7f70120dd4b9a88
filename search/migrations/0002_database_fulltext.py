"""Full-text search for the database engine, beside IndexEntry (which stays unaware of it).

SQLite: FTS5 external-content tables over site_search_indexentry (stemmed, and unstemmed titles
for autocomplete), triggers keeping them in step, and a covering index of the facet fields.
PostgreSQL: a stored generated tsvector column with a GIN index, and a GIN index on title words.
The statements live in search.backends.database, which also uses them to repair the objects a
later SQLite table remake drops (`manage.py search_reindex`).
"""

from django.db import migrations


def install(apps, schema_editor):
    from search.backends.database import install_fulltext

    install_fulltext(schema_editor.connection)


def remove(apps, schema_editor):
    from search.backends.database import remove_fulltext

    remove_fulltext(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("site_search", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
