"""django-allauth hooks for the portal's accounts."""

import base64

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.sites.requests import RequestSite
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.http import urlencode

from portal import policy

# Part of every key derived from SECRET_KEY: changing it makes stored secrets unreadable.
DERIVED_KEY_INFO = b"protectors-portal mfa secrets v1"


def derive_key(secret_key):
    """A Fernet key for MFA secrets, derived from a Django secret key."""
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVED_KEY_INFO)
    return base64.urlsafe_b64encode(material.derive(secret_key.encode()))


def mfa_fernet():
    """The keys for MFA secrets: the first encrypts, any of them decrypts.

    MFA_ENCRYPTION_KEY lists Fernet keys newest first. The key derived from SECRET_KEY comes
    after them, so secrets stored before MFA_ENCRYPTION_KEY was set can still be read.
    """
    configured = [key.strip() for key in settings.MFA_ENCRYPTION_KEY.split(",") if key.strip()]
    try:
        keys = [Fernet(key) for key in configured]
    except ValueError as error:
        raise ImproperlyConfigured(f"MFA_ENCRYPTION_KEY: {error}") from None
    return MultiFernet([*keys, Fernet(derive_key(settings.SECRET_KEY))])


class MFAAdapter(DefaultMFAAdapter):
    """Stores TOTP secrets and recovery-code seeds encrypted, so a copy of the database (a backup,
    a read-only injection) does not give away anyone's second factor."""

    def encrypt(self, text):
        return mfa_fernet().encrypt(text.encode()).decode("ascii")

    def decrypt(self, encrypted_text):
        return mfa_fernet().decrypt(encrypted_text.encode("ascii")).decode()


class AccountAdapter(DefaultAccountAdapter):
    """Where people land after signing in, unless they were on their way elsewhere: members in
    the forum, applicants on their application (to fill in, or to see that it waits), editors who
    are not members and suspended members on the home page. Confirming an e-mail address leads on
    to the application too. allauth's e-mails carry the site's name, not the host's."""

    def get_login_redirect_url(self, request):
        user = request.user
        if policy.is_member(user):
            return reverse("portal:home")
        if policy.can_apply(user) and not user.has_perm("wagtailadmin.access_admin"):
            return reverse("portal:apply")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        """A new account's next step, once its address is confirmed: the application."""
        return reverse("portal:apply")

    def get_email_verification_redirect_url(self, email_address):
        """Signed in (the browser that signed up): where signing in leads. Otherwise the sign-in
        page, on the way to the application for someone who may apply."""
        if self.request.user.is_authenticated:
            return self.get_login_redirect_url(self.request)
        login = reverse("account_login")
        if policy.can_apply(email_address.user):
            return f"{login}?{urlencode({'next': reverse('portal:apply')})}"
        return login

    def send_mail(self, template_prefix, email, context_data):
        request = context.request
        site = RequestSite(request)
        site.name = settings.WAGTAIL_SITE_NAME
        site_url = request.build_absolute_uri("/")
        super().send_mail(
            template_prefix, email, {"current_site": site, "site_url": site_url, **context_data}
        )
