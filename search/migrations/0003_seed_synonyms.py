from django.db import migrations

# Terms practitioners use interchangeably; editors extend the list under Settings → Search synonyms.
SEED_SYNONYMS = [
    "CSAM, child sexual abuse material",
    "CSEA, child sexual exploitation and abuse",
    "CSEM, child sexual exploitation material",
    "E2EE, end-to-end encryption, end to end encryption",
    "OCSEA, online child sexual exploitation and abuse",
    "NCMEC, National Center for Missing and Exploited Children",
    "IWF, Internet Watch Foundation",
    "AI, artificial intelligence",
    "ML, machine learning",
    "grooming, online grooming, solicitation",
    "sextortion, sexual extortion",
    "livestreaming, live streaming",
]


def seed(apps, schema_editor):
    Synonym = apps.get_model("site_search", "Synonym")
    for terms in SEED_SYNONYMS:
        Synonym.objects.get_or_create(terms=terms)


def unseed(apps, schema_editor):
    apps.get_model("site_search", "Synonym").objects.filter(terms__in=SEED_SYNONYMS).delete()


class Migration(migrations.Migration):
    dependencies = [("site_search", "0002_database_fulltext")]
    operations = [migrations.RunPython(seed, unseed)]
