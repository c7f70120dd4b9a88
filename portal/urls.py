from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("apply/", views.apply, name="apply"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("c/<slug:slug>/new/", views.new_thread, name="new-thread"),
    path("t/<int:pk>/", views.thread, name="thread"),
    path("t/<int:pk>/reply/", views.reply, name="reply"),
    path("t/<int:pk>/moderate/", views.moderate_thread, name="moderate-thread"),
    path("follow/<str:kind>/<int:pk>/", views.toggle_follow, name="follow"),
    path("p/<int:pk>/", views.post_link, name="post"),
    path("p/<int:pk>/edit/", views.edit_post, name="edit-post"),
    path("p/<int:pk>/delete/", views.delete_post, name="delete-post"),
    path("p/<int:pk>/report/", views.report_post, name="report-post"),
    path("p/<int:pk>/moderate/", views.moderate_post, name="moderate-post"),
    path("p/<int:pk>/history/", views.post_history, name="post-history"),
    path("preview/", views.preview, name="preview"),
    path("members/autocomplete/", views.member_autocomplete, name="member-autocomplete"),
    path("notifications/", views.notifications, name="notifications"),
    path("account/", views.profile, name="profile"),
    path("account/export/", views.export, name="export"),
    path("account/delete/", views.delete_account, name="delete-account"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("moderation/", views.moderation, name="moderation"),
    path("moderation/applications/<int:pk>/", views.application, name="application"),
    path("moderation/reports/<int:pk>/dismiss/", views.dismiss_report, name="dismiss-report"),
    path("moderation/members/", views.members, name="members"),
    path("moderation/members/<int:pk>/", views.member, name="member"),
    path("moderation/audit/", views.audit_log, name="audit-log"),
]
