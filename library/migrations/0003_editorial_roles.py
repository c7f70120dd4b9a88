"""The library's editorial roles, on top of the groups Wagtail's own migrations create.

- Contributors (new): draft, preview and submit pages for moderation; upload and choose documents
  and images. What Wagtail's "Editors" group could do before this migration.
- Editors (Wagtail's group, extended): also publish, unpublish and schedule pages directly, lock
  and unlock them, and manage publishers, resource types and search synonyms; they already manage
  documents and images.
- Moderators (Wagtail's group, unchanged): approve or reject submissions in Wagtail's "Moderators
  approval" workflow, which Wagtail assigns to the whole page tree.

Page permissions sit on the tree's root, so they hold for every page the demo or an editor adds.
"""

from django.db import migrations

CONTRIBUTORS = "Contributors"
EDITORS = "Editors"

CONTRIBUTOR_PAGE_PERMISSIONS = ["add_page", "change_page"]
CONTRIBUTOR_COLLECTION_PERMISSIONS = [
    ("wagtaildocs", "document", ["add_document", "choose_document"]),
    ("wagtailimages", "image", ["add_image", "choose_image"]),
]
EDITOR_PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page", "lock_page", "unlock_page"]
EDITOR_MODEL_PERMISSIONS = [
    ("library", "publisher"),
    ("library", "resourcetype"),
    ("site_search", "synonym"),
]
ACTIONS = ["add", "change", "delete"]


def _permission(apps, app_label, model, codename):
    """The permission row, made here if Django's post-migrate step has not made it yet."""
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    content_type, _ = content_type_model.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = permission_model.objects.get_or_create(
        content_type=content_type,
        codename=codename,
        defaults={"name": f"Can {codename.replace('_', ' ')}"},
    )
    return permission


def _root_page(apps):
    return apps.get_model("wagtailcore", "Page").objects.filter(depth=1).first()


def _root_collection(apps):
    return apps.get_model("wagtailcore", "Collection").objects.filter(depth=1).first()


def _grant_pages(apps, group, codenames):
    page_permission_model = apps.get_model("wagtailcore", "GroupPagePermission")
    root = _root_page(apps)
    for codename in codenames:
        page_permission_model.objects.get_or_create(
            group=group, page=root, permission=_permission(apps, "wagtailcore", "page", codename)
        )


def create_roles(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    collection_permission_model = apps.get_model("wagtailcore", "GroupCollectionPermission")

    contributors, _ = group_model.objects.get_or_create(name=CONTRIBUTORS)
    contributors.permissions.add(_permission(apps, "wagtailadmin", "admin", "access_admin"))
    _grant_pages(apps, contributors, CONTRIBUTOR_PAGE_PERMISSIONS)
    root_collection = _root_collection(apps)
    for app_label, model, codenames in CONTRIBUTOR_COLLECTION_PERMISSIONS:
        for codename in codenames:
            collection_permission_model.objects.get_or_create(
                group=contributors,
                collection=root_collection,
                permission=_permission(apps, app_label, model, codename),
            )

    editors, _ = group_model.objects.get_or_create(name=EDITORS)
    editors.permissions.add(_permission(apps, "wagtailadmin", "admin", "access_admin"))
    _grant_pages(apps, editors, EDITOR_PAGE_PERMISSIONS)
    for app_label, model in EDITOR_MODEL_PERMISSIONS:
        for action in ACTIONS:
            editors.permissions.add(_permission(apps, app_label, model, f"{action}_{model}"))


def remove_roles(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    page_permission_model = apps.get_model("wagtailcore", "GroupPagePermission")
    group_model.objects.filter(name=CONTRIBUTORS).delete()
    editors = group_model.objects.filter(name=EDITORS).first()
    if editors is None:
        return
    page_permission_model.objects.filter(
        group=editors,
        permission__codename__in=["publish_page", "lock_page", "unlock_page"],
    ).delete()
    editors.permissions.remove(
        *editors.permissions.filter(
            content_type__app_label__in=["library", "site_search"],
            content_type__model__in=[model for _, model in EDITOR_MODEL_PERMISSIONS],
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0002_briefing_sections_and_related_items"),
        ("site_search", "0003_seed_synonyms"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
