"""Outbox rows say which visibilities' searches their change alters, so that applying them
answers afresh only those searches (search.results_cache)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("site_search", "0005_search_analytics")]

    operations = [
        migrations.AddField(
            model_name="pendingindexchange",
            name="visibilities",
            field=models.JSONField(default=list),
        ),
    ]
