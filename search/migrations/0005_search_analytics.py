"""Index entries note when they became searchable (saved searches count what is new), and search
analytics: daily counts per query. Wagtail's Editors and Moderators groups may read them, and
manage the synonyms the report suggests adding."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.models import F

READERS = ["Editors", "Moderators"]  # Wagtail's own groups of editors
CODENAMES = ["view_search_analytics", "add_synonym", "change_synonym", "view_synonym"]


def entries_added_when_last_changed(apps, schema_editor):
    # Nulls only: the column is nullable so that SQLite adds it in place, keeping the full-text
    # triggers on the table.
    IndexEntry = apps.get_model("site_search", "IndexEntry")
    IndexEntry.objects.filter(added_at__isnull=True).update(added_at=F("updated_at"))


def let_editors_read_analytics(apps, schema_editor):
    config = apps.get_app_config("site_search")
    config.models_module = True  # create_permissions skips apps without models
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="site_search", codename__in=CODENAMES
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=READERS):
        group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("site_search", "0004_facet_index_kind"),
        ("wagtailcore", "0002_initial_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexentry",
            name="added_at",
            field=models.DateTimeField(db_index=True, null=True),
        ),
        migrations.CreateModel(
            name="SearchCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("query", models.CharField(blank=True, max_length=200)),
                ("searches", models.PositiveIntegerField(default=0)),
                ("without_results", models.PositiveIntegerField(default=0)),
                ("results_total", models.PositiveBigIntegerField(default=0)),
                ("opened", models.PositiveIntegerField(default=0)),
            ],
            options={
                "permissions": [("view_search_analytics", "Can see what people search for")],
                "constraints": [
                    models.UniqueConstraint(fields=("day", "query"), name="one_count_a_day")
                ],
            },
        ),
        migrations.RunPython(entries_added_when_last_changed, migrations.RunPython.noop),
        migrations.RunPython(let_editors_read_analytics, migrations.RunPython.noop),
    ]
