"""Forms render fields and keep what was typed; the rules themselves live in portal.actions."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from portal.models import Category, Membership, User


class ApplicationForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=120)
    organisation = forms.CharField(max_length=120)
    job_title = forms.CharField(label="Your role", max_length=120)
    country = forms.CharField(max_length=80)
    reason = forms.CharField(
        label="Why you want to join",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Tell the moderators about your work protecting children.",
    )
    agreed = forms.BooleanField(
        label="I have read and agree to the code of conduct",
        required=False,
    )


def _source_field(label="Your post"):
    # No max_length: a browser would cut pasted text silently at the limit; the action refuses
    # it with a message that names the limit, and the text stays in the box.
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "data-markdown-editor": ""}),
        help_text="Markdown: **bold**, _italic_, > quote, `code`, lists, links, @handle mentions.",
        required=False,
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files, as a list; the limits and the safety pipeline are the action's."""

    # What the picker offers; the safety pipeline decides from the content, not from this.
    ACCEPT = ".pdf,.docx,.xlsx,.pptx,.odt,.png,.jpg,.jpeg,.webp"

    def __init__(self, **kwargs):
        super().__init__(
            label="Attach files",
            required=False,
            widget=MultipleFileInput(attrs={"accept": self.ACCEPT}),
            **kwargs,
        )

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [file for file in files if file]


def attachments_help():
    return (
        f"PDF, Word, Excel, PowerPoint, OpenDocument text, PNG, JPEG or WebP: up to "
        f"{settings.ATTACHMENTS_PER_POST} files of {filesizeformat(settings.ATTACHMENT_MAX_BYTES)} "
        f"each. Every file is checked for safety before anyone can open it."
    )


class AttachingForm(forms.Form):
    attachments = AttachmentsField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()


class PostForm(AttachingForm):
    source = _source_field()
    quoted = forms.IntegerField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class ThreadForm(AttachingForm):
    title = forms.CharField(max_length=200, required=False)
    source = _source_field("First post")
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class EditForm(forms.Form):
    source = _source_field()


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class MoveForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.none())
    reason = forms.CharField(max_length=2000, required=False)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories


class MergeForm(forms.Form):
    target = forms.IntegerField(
        label="Merge into thread number", help_text="The number in the other thread's address."
    )
    reason = forms.CharField(max_length=2000, required=False)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
    reason = forms.CharField(max_length=2000, required=False)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "organisation", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"display_name": "Shown to members beside your posts."}


class DisplayForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["blur_images"]


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email_frequency", "notify_replies", "notify_mentions"]
        widgets = {"email_frequency": forms.RadioSelect}
