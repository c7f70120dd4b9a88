from django.urls import path

from portal import views

app_name = "portal"

# <id:pk> is inputs.IdConverter, registered by config/urls.py.

urlpatterns = [
    path("", views.home, name="home"),
    path("apply/", views.apply, name="apply"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("c/<slug:slug>/new/", views.new_thread, name="new-thread"),
    path("t/<id:pk>/", views.thread, name="thread"),
    path("t/<id:pk>/reply/", views.reply, name="reply"),
    path("t/<id:pk>/moderate/", views.moderate_thread, name="moderate-thread"),
    path("follow/<str:kind>/<id:pk>/", views.toggle_follow, name="follow"),
    path("p/<id:pk>/", views.post_link, name="post"),
    path("p/<id:pk>/edit/", views.edit_post, name="edit-post"),
    path("p/<id:pk>/delete/", views.delete_post, name="delete-post"),
    path("p/<id:pk>/report/", views.report_post, name="report-post"),
    path("p/<id:pk>/moderate/", views.moderate_post, name="moderate-post"),
    path("p/<id:pk>/history/", views.post_history, name="post-history"),
    path("p/<id:pk>/warning/", views.content_warning, name="content-warning"),
    path("files/<id:pk>/remove/", views.remove_attachment, name="remove-attachment"),
    path("files/<id:pk>/<str:name>", views.attachment, name="attachment"),
    path("preview/", views.preview, name="preview"),
    path("members/autocomplete/", views.member_autocomplete, name="member-autocomplete"),
    path("notifications/", views.notifications, name="notifications"),
    path("account/", views.profile, name="profile"),
    path("account/export/", views.export, name="export"),
    path("account/delete/", views.delete_account, name="delete-account"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("searches/", views.saved_searches, name="saved-searches"),
    path("searches/save/", views.save_search, name="save-search"),
    path("searches/<id:pk>/", views.open_saved_search, name="open-saved-search"),
    path("searches/<id:pk>/alert/", views.saved_search_alert, name="saved-search-alert"),
    path("searches/<id:pk>/delete/", views.delete_saved_search, name="delete-saved-search"),
    path(
        "searches/unsubscribe/<str:token>/",
        views.saved_search_unsubscribe,
        name="saved-search-unsubscribe",
    ),
    path("moderation/", views.moderation, name="moderation"),
    path("moderation/applications/<id:pk>/", views.application, name="application"),
    path("moderation/reports/<id:pk>/dismiss/", views.dismiss_report, name="dismiss-report"),
    path("moderation/members/", views.members, name="members"),
    path("moderation/members/<id:pk>/", views.member, name="member"),
    path("moderation/audit/", views.audit_log, name="audit-log"),
    path("moderation/quarantine/", views.quarantine, name="quarantine"),
]
