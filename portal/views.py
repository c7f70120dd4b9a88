"""The portal's pages. Views are thin: they read through portal.queries, ask portal.policy, and
write through portal.actions; a failed action re-renders the form with what was typed."""

import functools
import json
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import inputs
from portal import alerts, policy, queries
from portal.actions import ActionError, account, admission, forum, reading, searches
from portal.audit import client_ip
from portal.export import member_data
from portal.forms import (
    ApplicationForm,
    DisplayForm,
    EditForm,
    MergeForm,
    MoveForm,
    PostForm,
    PreferencesForm,
    ProfileForm,
    ReasonForm,
    RoleForm,
    ThreadForm,
)
from portal.models import (
    Attachment,
    AuditEvent,
    Category,
    Membership,
    Post,
    QuarantinedFile,
    Report,
    SavedSearch,
    Thread,
    User,
)
from portal.notify import user_for_unsubscribe_token
from search import registry as search_registry


def _gate(allowed, audience):
    """Decorate a view: anonymous visitors are sent to sign in (the sign-in page says why);
    signed-in people the test refuses get a 403 page that names who the page is for,
    `audience`, in the words of the policy's rule, and what they can do instead (apply, wait,
    ask a moderator)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                return render(
                    request,
                    "portal/not_a_member.html",
                    {
                        "audience": audience,
                        "membership": policy.membership_of(request.user),
                        "member": policy.is_member(request.user),
                    },
                    status=403,
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# Each gate's audience is who its policy rule lets in (staff count as members and moderators).
members_only = _gate(policy.is_member, "members")
moderators_only = _gate(policy.is_moderator, "moderators")
staff_only = _gate(policy.can_view_audit_log, "staff")
signed_in = _gate(lambda user: True, "everyone signed in")


def _posted(request):
    """Form data to bind: a POST binds even when empty, so it is validated, never shown as new."""
    return request.POST if request.method == "POST" else None


def _apply_form_error(form, error):
    field = error.field if error.field in form.fields else None
    for message in getattr(error, "messages", [error.message]):
        form.add_error(field, message)


def _wants_json(request):
    """The attaching script posts forms itself, to show upload progress, and reads the answer
    as JSON; without it the same view answers with pages."""
    return "application/json" in request.headers.get("Accept", "")


def _form_errors_json(form):
    return JsonResponse({"errors": {k: list(v) for k, v in form.errors.items()}}, status=400)


def _back(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=False
    ):
        # A URL as given: redirect() would first try a word like "home" as a view name.
        return HttpResponseRedirect(target)
    return redirect(fallback)


def _with_reason(action):
    """A moderation operation that needs nothing from its form but the reason: the action,
    done by the moderator making the request."""

    def operation(request, subject, reason):
        return action(request.user, subject, reason, ip=client_ip(request))

    return operation


# --- Admission -----------------------------------------------------------------------------------


@signed_in
@require_http_methods(["GET", "POST"])
def apply(request):
    membership = policy.membership_of(request.user)
    if policy.is_member(request.user):
        return redirect("portal:home")
    if not policy.can_apply(request.user):
        raise PermissionDenied
    if membership and membership.status == Membership.Status.PENDING and request.method == "GET":
        return render(request, "portal/application_pending.html", {"membership": membership})
    initial = {"full_name": request.user.get_full_name()}
    if membership:
        initial = {
            field: getattr(membership, field)
            for field in ("full_name", "organisation", "job_title", "country", "reason")
        }
    form = ApplicationForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            membership = admission.submit_application(
                request.user, **form.cleaned_data, ip=client_ip(request)
            )
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            if membership.status == Membership.Status.APPROVED:
                messages.success(request, "Welcome: your organisation is trusted, so you are in.")
                return redirect("portal:home")
            return redirect("portal:apply")
    return render(
        request,
        "portal/apply.html",
        {"form": form, "membership": membership},
        status=400 if form.errors else 200,
    )


# --- Forum ---------------------------------------------------------------------------------------


@members_only
@require_GET
def home(request):
    return render(
        request,
        "portal/home.html",
        {
            "categories": queries.categories_with_counts(request.user),
            "threads": queries.thread_list(request.user)[:15],
        },
    )


@members_only
@require_GET
def category(request, slug):
    category = get_object_or_404(Category, slug=slug)
    if not policy.can_view_category(request.user, category):
        raise Http404
    threads = Paginator(queries.thread_list(request.user, category), 30).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/category.html",
        {
            "category": category,
            "threads": threads,
            "following": queries.is_following(request.user, category=category),
        },
    )


def _visible_thread(request, pk):
    thread = get_object_or_404(Thread.objects.select_related("category"), pk=pk)
    if not policy.can_view_thread(request.user, thread):
        raise Http404
    return thread


@members_only
@require_http_methods(["GET", "POST"])
def new_thread(request, slug):
    category = get_object_or_404(Category, slug=slug)
    if not policy.can_start_thread(request.user, category):
        raise Http404
    form = ThreadForm(_posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread = forum.create_thread(
                request.user,
                category,
                form.cleaned_data["title"],
                form.cleaned_data["source"],
                idempotency_key=form.cleaned_data["idempotency_key"],
                files=form.cleaned_data["attachments"],
            )
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            url = reverse("portal:thread", args=[thread.pk])
            return JsonResponse({"url": url}) if _wants_json(request) else redirect(url)
    if form.errors and _wants_json(request):
        return _form_errors_json(form)
    return render(
        request,
        "portal/new_thread.html",
        {"category": category, "form": form},
        status=400 if form.errors else 200,
    )


@members_only
@require_GET
def thread(request, pk):
    thread = _visible_thread(request, pk)
    if thread.merged_into_id:
        return redirect("portal:thread", pk=thread.merged_into_id)
    return _render_thread(request, thread, _open_page(request, thread), PostForm())


def _open_page(request, thread):
    """The page of posts the request asks for, noted as read by the member it is shown to."""
    page = queries.thread_page(request.user, thread, request.GET.get("page"))
    if page.object_list:
        reading.note_thread_read(request.user, thread, page.object_list[-1].number)
    return page


def _render_thread(request, thread, page, form, status=200):
    quoted_id = inputs.integer(request.GET.get("quote"), low=1)
    if quoted_id and not form.is_bound:
        quoted = queries.quotable_post(request.user, thread, quoted_id)
        if quoted:
            form = PostForm(initial={"source": queries.quote_source(quoted), "quoted": quoted.pk})
    return render(
        request,
        "portal/thread.html",
        {
            "thread": thread,
            "posts": page,
            "form": form,
            "can_post": policy.can_post_in(request.user, thread),
            "can_moderate": policy.can_moderate_thread(request.user, thread),
            "following": queries.is_following(request.user, thread=thread),
            "move_form": MoveForm(categories=policy.visible_categories(request.user)),
            "live": queries.live_state(request.user, thread, page),
        },
        status=status,
    )


@members_only
@require_POST
def reply(request, pk):
    thread = _visible_thread(request, pk)
    form = PostForm(request.POST, request.FILES)
    if form.is_valid():
        quoted = queries.quotable_post(request.user, thread, form.cleaned_data["quoted"])
        try:
            post = forum.create_post(
                request.user,
                thread,
                form.cleaned_data["source"],
                quoted=quoted,
                idempotency_key=form.cleaned_data["idempotency_key"],
                files=form.cleaned_data["attachments"],
            )
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            held = post.state == Post.State.PENDING
            if _wants_json(request):
                return JsonResponse({"url": queries.post_url(request.user, post), "held": held})
            if held:
                messages.info(
                    request, "Thanks: your post will appear once a moderator approves it."
                )
            return redirect(queries.post_url(request.user, post))
    if _wants_json(request):
        return _form_errors_json(form)
    return _render_thread(request, thread, _open_page(request, thread), form, status=400)


def _visible_post(request, pk):
    post = get_object_or_404(Post.objects.select_related("thread__category", "author"), pk=pk)
    if not policy.can_view_post(request.user, post):
        raise Http404
    return post


@members_only
@require_GET
def post_link(request, pk):
    return redirect(queries.post_url(request.user, _visible_post(request, pk)))


@members_only
@require_http_methods(["GET", "POST"])
def edit_post(request, pk):
    post = _visible_post(request, pk)
    if not policy.can_edit_post(request.user, post):
        raise PermissionDenied
    form = EditForm(_posted(request), initial={"source": post.source})
    if request.method == "POST" and form.is_valid():
        try:
            post = forum.edit_post(request.user, post, form.cleaned_data["source"])
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            return redirect(queries.post_url(request.user, post))
    return render(
        request,
        "portal/edit_post.html",
        {"post": post, "form": form},
        status=400 if form.errors else 200,
    )


@members_only
@require_POST
def delete_post(request, pk):
    post = _visible_post(request, pk)
    forum.delete_post(request.user, post)
    messages.success(request, "Your post was deleted.")
    return redirect(queries.post_url(request.user, post))


@members_only
@require_http_methods(["GET", "POST"])
def report_post(request, pk):
    post = _visible_post(request, pk)
    if not policy.can_report_post(request.user, post):
        raise PermissionDenied
    form = ReasonForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            forum.report_post(request.user, post, form.cleaned_data["reason"], client_ip(request))
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            messages.success(request, "Thank you: the moderators have your report.")
            return redirect(queries.post_url(request.user, post))
    return render(
        request,
        "portal/report_post.html",
        {"post": post, "form": form},
        status=400 if form.errors else 200,
    )


# What the moderation buttons on a post ask for, by the name each button sends.
POST_OPERATIONS = {
    "hide": _with_reason(forum.hide_post),
    "restore": _with_reason(forum.restore_post),
}


@members_only
@require_POST
def moderate_post(request, pk):
    post = _visible_post(request, pk)
    if not policy.can_moderate_thread(request.user, post.thread):
        raise PermissionDenied
    operation = POST_OPERATIONS.get(request.POST.get("operation"))
    if operation is None:
        return HttpResponse("Unknown operation.", status=400)
    try:
        operation(request, post, request.POST.get("reason", ""))
    except ActionError as error:
        messages.error(request, error.message)
    return _back(request, queries.post_url(request.user, post))


@members_only
@require_GET
def post_history(request, pk):
    post = _visible_post(request, pk)
    if not policy.can_see_edit_history(request.user, post):
        raise PermissionDenied
    return render(request, "portal/post_history.html", {"post": post})


@members_only
@require_POST
def content_warning(request, pk):
    """Mark a post, or one of its files (the `attachment` field), sensitive; an empty reason
    takes the warning off."""
    post = _visible_post(request, pk)
    if not policy.can_set_content_warning(request.user, post):
        raise PermissionDenied
    attachment = None
    attachment_id = inputs.integer(request.POST.get("attachment"), low=1)
    if attachment_id:
        attachment = get_object_or_404(Attachment, pk=attachment_id, post=post)
    try:
        forum.set_content_warning(
            request.user,
            post,
            request.POST.get("reason", ""),
            attachment=attachment,
            ip=client_ip(request),
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The content warning is saved.")
    return redirect(queries.post_url(request.user, post))


def _attachment_of_visible_post(request, pk):
    attachment = get_object_or_404(
        Attachment.objects.select_related("post__thread__category", "post__author"), pk=pk
    )
    if not policy.can_read_post_content(request.user, attachment.post):
        raise Http404
    return attachment


@members_only
@require_GET
def attachment(request, pk, name):
    """A file, to whoever may read its post, once the safety pipeline has passed it; one that
    waits for its scan or was removed gets a page saying so."""
    attachment = _attachment_of_visible_post(request, pk)
    if name != attachment.original_name:
        raise Http404
    if not policy.can_view_attachment(request.user, attachment):
        return render(
            request, "portal/attachment_unavailable.html", {"attachment": attachment}, status=404
        )
    try:
        response = _file_response(attachment)
    except FileNotFoundError:
        return render(
            request, "portal/attachment_unavailable.html", {"attachment": attachment}, status=404
        )
    # Images show in the page; everything else is a download the browser never renders.
    response["Content-Disposition"] = content_disposition_header(
        not attachment.is_image, attachment.original_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def _file_response(attachment):
    """The file's bytes, or behind nginx an empty answer naming the file for the proxy to send
    (ATTACHMENT_ACCEL_REDIRECT, deploy/README.md)."""
    if settings.ATTACHMENT_ACCEL_REDIRECT:
        response = HttpResponse(content_type=attachment.content_type)
        prefix = settings.ATTACHMENT_ACCEL_REDIRECT.rstrip("/")
        response["X-Accel-Redirect"] = f"{prefix}/{quote(attachment.file.name)}"
        return response
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)


@members_only
@require_POST
def remove_attachment(request, pk):
    attachment = _attachment_of_visible_post(request, pk)
    if not policy.can_remove_attachment(request.user, attachment):
        raise PermissionDenied
    try:
        forum.remove_attachment(
            request.user, attachment, request.POST.get("reason", ""), ip=client_ip(request)
        )
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"“{attachment.original_name}” is removed.")
    return redirect(queries.post_url(request.user, attachment.post))


def _move_thread(request, thread, reason):
    form = MoveForm(request.POST, categories=policy.visible_categories(request.user))
    if not form.is_valid():
        raise ActionError("Choose a category to move the thread to.")
    category = form.cleaned_data["category"]
    return forum.move_thread(request.user, thread, category, reason, ip=client_ip(request))


def _merge_thread(request, thread, reason):
    form = MergeForm(request.POST)
    target = form.is_valid() and Thread.objects.filter(pk=form.cleaned_data["target"]).first()
    if not target or not policy.can_view_thread(request.user, target):
        raise ActionError("There is no thread with that number.")
    return forum.merge_threads(request.user, thread, target, reason, ip=client_ip(request))


# What the moderation forms of a thread ask for, by the name each form sends; each operation
# returns the thread to show afterwards.
THREAD_OPERATIONS = {
    "lock": _with_reason(forum.lock_thread),
    "unlock": _with_reason(forum.unlock_thread),
    "pin": _with_reason(forum.pin_thread),
    "unpin": _with_reason(forum.unpin_thread),
    "move": _move_thread,
    "merge": _merge_thread,
}


@members_only
@require_POST
def moderate_thread(request, pk):
    thread = _visible_thread(request, pk)
    if not policy.can_moderate_thread(request.user, thread):
        raise PermissionDenied
    operation = THREAD_OPERATIONS.get(request.POST.get("operation"))
    if operation is None:
        return HttpResponse("Unknown operation.", status=400)
    try:
        thread = operation(request, thread, request.POST.get("reason", ""))
    except ActionError as error:
        messages.error(request, error.message)
    return redirect("portal:thread", pk=thread.pk)


@members_only
@require_POST
def toggle_follow(request, kind, pk):
    # What the member may not see is not found, as on its own page (follow or unfollow alike).
    if kind == "thread":
        arguments = {"thread": _visible_thread(request, pk)}
    elif kind == "category":
        category = get_object_or_404(Category, pk=pk)
        if not policy.can_view_category(request.user, category):
            raise Http404
        arguments = {"category": category}
    else:
        raise Http404
    if request.POST.get("follow") == "1":
        reading.follow(request.user, **arguments)
    else:
        reading.unfollow(request.user, **arguments)
    return _back(request, "portal:home")


@members_only
@require_POST
def preview(request):
    source = request.POST.get("source", "")[: 2 * 20_000]
    html, _ = forum.render_post(source)
    return HttpResponse(html or "<p>Nothing to preview yet.</p>")


@members_only
@require_GET
def member_autocomplete(request):
    return JsonResponse({"members": queries.mention_candidates(request.GET.get("q", ""))})


@members_only
@require_http_methods(["GET", "POST"])
def notifications(request):
    if request.method == "POST":
        # No id marks all read; ids that are no whole number mark nothing.
        ids = request.POST.getlist("id")
        reading.mark_notifications_read(request.user, inputs.integers(ids, low=1) if ids else None)
        return _back(request, "portal:notifications")
    page = Paginator(queries.notifications_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"notifications": page})


# --- Members' own data ---------------------------------------------------------------------------


@signed_in
@require_http_methods(["GET", "POST"])
def profile(request):
    profile_form = ProfileForm(instance=request.user, prefix="profile")
    preferences_form = PreferencesForm(instance=request.user, prefix="prefs")
    display_form = DisplayForm(instance=request.user, prefix="display")
    if request.method == "POST":
        if not policy.can_edit_profile(request.user):
            raise PermissionDenied
        try:
            if "display" in request.POST:
                display_form = DisplayForm(request.POST, instance=request.user, prefix="display")
                if display_form.is_valid():
                    account.update_display_preferences(request.user, **display_form.cleaned_data)
                    messages.success(request, "Your image choice is saved.")
                    return redirect("portal:profile")
            elif "profile-display_name" in request.POST:
                profile_form = ProfileForm(request.POST, instance=request.user, prefix="profile")
                if profile_form.is_valid():
                    account.update_profile(request.user, **profile_form.cleaned_data)
                    messages.success(request, "Your profile is saved.")
                    return redirect("portal:profile")
            else:
                preferences_form = PreferencesForm(
                    request.POST, instance=request.user, prefix="prefs"
                )
                if preferences_form.is_valid():
                    account.update_notification_preferences(
                        request.user, **preferences_form.cleaned_data
                    )
                    messages.success(request, "Your notification choices are saved.")
                    return redirect("portal:profile")
        except ActionError as error:
            messages.error(request, error.message)
    return render(
        request,
        "portal/profile.html",
        {
            "profile_form": profile_form,
            "preferences_form": preferences_form,
            "display_form": display_form,
        },
        status=400 if profile_form.errors or preferences_form.errors else 200,
    )


@signed_in
@require_GET
def export(request):
    response = HttpResponse(
        json.dumps(member_data(request.user), indent=2, default=str),
        content_type="application/json",
    )
    response["Content-Disposition"] = 'attachment; filename="protectors-portal-my-data.json"'
    return response


@signed_in
@require_http_methods(["GET", "POST"])
def delete_account(request):
    if request.method == "POST":
        if request.POST.get("confirm") != request.user.email:
            messages.error(request, "Type your e-mail address exactly to confirm.")
        else:
            user = request.user
            logout(request)
            account.delete_account(user, ip=client_ip(request))
            messages.success(request, "Your account is deleted. Thank you for your work.")
            return redirect("/")
    return render(request, "portal/delete_account.html", {})


# Mail clients send RFC 8058 one-click unsubscribes as a bare POST; the signed token is the proof.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    user = user_for_unsubscribe_token(token)
    if user is None:
        return render(request, "portal/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        account.unsubscribe_from_email(user)
        return render(request, "portal/unsubscribe.html", {"done": True})
    return render(request, "portal/unsubscribe.html", {"token": token})


# --- Moderation ----------------------------------------------------------------------------------


@moderators_only
@require_GET
def moderation(request):
    return render(request, "portal/moderation.html", queries.moderation_queue(request.user))


DECISIONS = {
    "approve": _with_reason(admission.approve_application),
    "decline": _with_reason(admission.decline_application),
}


@moderators_only
@require_http_methods(["GET", "POST"])
def application(request, pk):
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk)
    form = ReasonForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        decide = DECISIONS.get(request.POST.get("decision"))
        if decide is None:
            return HttpResponse("Unknown decision.", status=400)
        try:
            decide(request, membership, form.cleaned_data["reason"])
        except ActionError as error:
            _apply_form_error(form, error)
        else:
            messages.success(request, f"{membership.full_name}: {membership.get_status_display()}.")
            return redirect("portal:moderation")
    return render(
        request,
        "portal/application.html",
        {"membership": membership, "form": form},
        status=400 if form.errors else 200,
    )


@moderators_only
@require_POST
def dismiss_report(request, pk):
    report = get_object_or_404(Report.objects.select_related("post__thread__category"), pk=pk)
    forum.dismiss_report(request.user, report, ip=client_ip(request))
    return redirect("portal:moderation")


@moderators_only
@require_GET
def members(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(queries.member_directory(query), 50).get_page(request.GET.get("page"))
    return render(request, "portal/members.html", {"members": page, "query": query})


def _set_role(request, member, reason):
    # The action checks the role named, as it does for every other door.
    role = request.POST.get("role", "")
    admission.set_role(request.user, member, role, reason, ip=client_ip(request))


# What the forms on a member's page ask for, by the name each form sends. The role form sends
# its reason under the same name as the suspension form.
MEMBER_OPERATIONS = {
    "suspend": _with_reason(admission.suspend_member),
    "unsuspend": _with_reason(admission.unsuspend_member),
    "role": _set_role,
}


@moderators_only
@require_http_methods(["GET", "POST"])
def member(request, pk):
    member = get_object_or_404(User.objects.select_related("membership"), pk=pk)
    membership = policy.membership_of(member)
    if membership is None:
        raise Http404
    form = ReasonForm(_posted(request))
    role_form = RoleForm(initial={"role": membership.role})
    if request.method == "POST":
        operation = MEMBER_OPERATIONS.get(request.POST.get("operation"))
        if operation is None:
            return HttpResponse("Unknown operation.", status=400)
        if form.is_valid():
            try:
                operation(request, member, form.cleaned_data["reason"])
            except ActionError as error:
                _apply_form_error(form, error)
            else:
                return redirect("portal:member", pk=member.pk)
    return render(
        request,
        "portal/member.html",
        {
            "member": member,
            "membership": membership,
            "form": form,
            "role_form": role_form,
            "can_suspend": policy.can_suspend(request.user, member),
            "can_set_role": policy.can_set_role(request.user, member),
            "events": AuditEvent.objects.filter(subject=member)[:50],
        },
        status=400 if form.errors else 200,
    )


@_gate(policy.can_view_quarantine, "staff")
@require_GET
def quarantine(request):
    """What the hash list held back: the records only. No page, moderators' included, ever
    shows or serves the files."""
    records = QuarantinedFile.objects.select_related("post__thread").order_by("-created")
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/quarantine.html",
        {"records": page, "retention_days": settings.QUARANTINE_RETENTION_DAYS},
    )


@staff_only
@require_GET
def audit_log(request):
    events = AuditEvent.objects.select_related("actor", "subject")
    action = request.GET.get("action", "")
    if action:
        events = events.filter(action=action)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "portal/audit_log.html", {"events": page, "action": action})


# --- Saved searches ------------------------------------------------------------------------------


def _saved_search(request, pk):
    return get_object_or_404(SavedSearch, pk=pk, user=request.user)


def _render_saved_searches(request, unsaved=None, status=200):
    """The saved searches with their new-result counts; `unsaved`: a search that could not be
    saved, shown again with what was typed and why."""
    saved_searches = list(request.user.saved_searches.all())
    counts = alerts.new_counts(request.user, saved_searches)
    summaries = alerts.descriptions(saved_searches)
    rows = [
        {"saved": saved, "new": counts[saved.pk], "summary": summaries[saved.pk]}
        for saved in saved_searches
    ]
    return render(
        request,
        "portal/saved_searches.html",
        {
            "rows": rows,
            "alert_choices": SavedSearch.Alert.choices,
            "unsaved": unsaved,
            "search_url": search_registry.search_page_url(),
        },
        status=status,
    )


@signed_in
@require_GET
def saved_searches(request):
    return _render_saved_searches(request)


@signed_in
@require_POST
def save_search(request):
    name, query = request.POST.get("name", ""), request.POST.get("query", "")
    try:
        saved, created = searches.save_search(request.user, name=name, query=query)
    except ActionError as error:
        unsaved = {"name": name, "query": query, "error": error.message}
        return _render_saved_searches(request, unsaved=unsaved, status=400)
    if created:
        messages.success(request, f"Search saved as “{saved.name}”.")
    else:
        messages.info(request, f"You had already saved this search, as “{saved.name}”.")
    return redirect("portal:saved-searches")


@signed_in
@require_GET
def open_saved_search(request, pk):
    """Opening a saved search notes its results as seen, then shows them."""
    saved = _saved_search(request, pk)
    searches.mark_seen(request.user, saved)
    return HttpResponseRedirect(search_registry.search_page_url(saved.query) or "/")


@signed_in
@require_POST
def saved_search_alert(request, pk):
    saved = _saved_search(request, pk)
    try:
        searches.set_alert(request.user, saved, request.POST.get("alert", ""))
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"“{saved.name}”: {saved.get_alert_display().lower()}.")
    return redirect("portal:saved-searches")


@signed_in
@require_POST
def delete_saved_search(request, pk):
    saved = _saved_search(request, pk)
    searches.delete_saved_search(request.user, saved)
    messages.success(request, f"“{saved.name}” is deleted.")
    return redirect("portal:saved-searches")


# RFC 8058 one-click unsubscribe, as for notifications: a bare POST, the signed token its proof.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def saved_search_unsubscribe(request, token):
    template = "portal/saved_search_unsubscribe.html"
    saved = alerts.saved_search_for_token(token)
    if saved is None:
        return render(request, template, {"invalid": True}, status=400)
    if request.method == "POST":
        searches.stop_alert(saved)
        return render(request, template, {"done": True, "saved": saved})
    return render(request, template, {"saved": saved})
