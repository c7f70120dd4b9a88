"""Forms render fields and keep what was typed; the rules themselves live in portal.actions."""

from django import forms

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


class PostForm(forms.Form):
    source = _source_field()
    quoted = forms.IntegerField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class ThreadForm(forms.Form):
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


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email_frequency", "notify_replies", "notify_mentions"]
        widgets = {"email_frequency": forms.RadioSelect}
