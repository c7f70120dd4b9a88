"""Accounts through allauth's real views: second factors (TOTP, recovery codes, passkeys) and how
they are stored, log-in by e-mailed code, reauthentication, sessions, password rules and the
failed log-in limit."""

import hashlib
import json
import os
import re
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import Client
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

from portal.accounts import MFAAdapter
from tests.conftest import manage

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unlikely passphrase"
LOGIN = "/accounts/login/"
MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"


@pytest.fixture(autouse=True)
def own_cache(settings):
    """Rate-limit counts and used TOTP codes live in the cache: give every test an empty one."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }


@pytest.fixture
def account():
    user = get_user_model().objects.create_user(
        username=f"user-{uuid.uuid4().hex[:8]}",
        email=f"{uuid.uuid4().hex[:8]}@example.org",
        password=PASSWORD,
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def log_in(client, user, password=PASSWORD):
    return client.post(LOGIN, {"login": user.email, "password": password})


def reauthenticate(client, password=PASSWORD):
    """Confirms the password again: the MFA pages ask for that even right after logging in."""
    return client.post("/accounts/reauthenticate/", {"password": password})


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def totp_code(secret):
    """The authenticator app's current code, by allauth's clock."""
    counter = int(totp_auth.time.time()) // 30
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))


@pytest.fixture(autouse=True)
def steady_authenticator_clock(monkeypatch):
    """allauth's TOTP clock held still through a test: a code made just before a 30 s period ends
    would otherwise be checked in the next one when the machine is slow."""
    now = time.time()
    monkeypatch.setattr(totp_auth, "time", SimpleNamespace(time=lambda: now))


def wait_for_next_code(monkeypatch):
    """Moves allauth's clock one TOTP period on, as if the user waited for the app's next code."""
    later = totp_auth.time.time() + 30
    monkeypatch.setattr(totp_auth, "time", SimpleNamespace(time=lambda: later))


def enrol_totp(client):
    """Activates an authenticator app through the MFA pages; returns its secret."""
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.context["form"].errors
    return secret


# --- Secrets at rest ---------------------------------------------------------------------------


def test_totp_secret_and_recovery_seed_are_stored_encrypted(client, account):
    log_in(client, account)
    reauthenticate(client)
    secret = enrol_totp(client)

    stored = Authenticator.objects.get(user=account, type=Authenticator.Type.TOTP).data["secret"]
    assert stored != secret
    assert secret not in stored
    assert MFAAdapter().decrypt(stored) == secret

    seed = Authenticator.objects.get(user=account, type=Authenticator.Type.RECOVERY_CODES)
    assert re.fullmatch(r"[0-9a-f]{80}", MFAAdapter().decrypt(seed.data["seed"]))
    assert not re.fullmatch(r"[0-9a-f]{80}", seed.data["seed"])


def test_encryption_key_rotation(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MFA_ENCRYPTION_KEY = old_key
    under_old_key = MFAAdapter().encrypt("JBSWY3DPEHPK3PXP")

    settings.MFA_ENCRYPTION_KEY = f"{new_key},{old_key}"
    assert MFAAdapter().decrypt(under_old_key) == "JBSWY3DPEHPK3PXP"
    under_new_key = MFAAdapter().encrypt("JBSWY3DPEHPK3PXP")
    assert Fernet(new_key).decrypt(under_new_key.encode()) == b"JBSWY3DPEHPK3PXP"

    settings.MFA_ENCRYPTION_KEY = new_key
    with pytest.raises(InvalidToken):
        MFAAdapter().decrypt(under_old_key)


def test_secrets_from_the_derived_key_survive_setting_a_key(settings):
    settings.MFA_ENCRYPTION_KEY = ""
    derived = MFAAdapter().encrypt("JBSWY3DPEHPK3PXP")
    settings.MFA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert MFAAdapter().decrypt(derived) == "JBSWY3DPEHPK3PXP"
    settings.SECRET_KEY = "another secret key, the old one lost"
    with pytest.raises(InvalidToken):
        MFAAdapter().decrypt(derived)


# --- TOTP and recovery codes -------------------------------------------------------------------


def test_log_in_with_password_then_authenticator_code(client, account):
    log_in(client, account)
    reauthenticate(client)
    secret = enrol_totp(client)
    client.post("/accounts/logout/")

    response = log_in(client, account)
    assert response["location"] == MFA_AUTHENTICATE
    assert not signed_in_as(client)
    refused = client.post(MFA_AUTHENTICATE, {"code": "000000"})
    assert "Incorrect code." in refused.content.decode()
    assert not signed_in_as(client)
    response = client.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})
    assert response.status_code == 302
    assert signed_in_as(client) == str(account.pk)


def test_an_authenticator_code_counts_once(client, account, monkeypatch):
    log_in(client, account)
    reauthenticate(client)
    secret = enrol_totp(client)
    client.post("/accounts/logout/")
    wait_for_next_code(monkeypatch)
    log_in(client, account)
    client.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})
    assert signed_in_as(client) == str(account.pk)
    client.post("/accounts/logout/")

    log_in(client, account)
    replay = client.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})
    assert "Incorrect code." in replay.content.decode()
    assert not signed_in_as(client)


def test_recovery_codes_generated_and_each_used_once(client, account):
    log_in(client, account)
    reauthenticate(client)
    enrol_totp(client)
    generate = client.get("/accounts/2fa/recovery-codes/generate/")
    assert generate.status_code == 200
    response = client.post("/accounts/2fa/recovery-codes/generate/")
    assert response["location"] == "/accounts/2fa/recovery-codes/"
    codes = client.get("/accounts/2fa/recovery-codes/").context["unused_codes"]
    assert len(codes) == 10
    download = client.get("/accounts/2fa/recovery-codes/download/")
    assert download["content-disposition"].startswith("attachment")
    assert codes[0] in download.content.decode()
    client.post("/accounts/logout/")

    log_in(client, account)
    client.post(MFA_AUTHENTICATE, {"code": codes[0]})
    assert signed_in_as(client) == str(account.pk)
    client.post("/accounts/logout/")

    log_in(client, account)
    again = client.post(MFA_AUTHENTICATE, {"code": codes[0]})
    assert "Incorrect code." in again.content.decode()
    assert not signed_in_as(client)


# --- WebAuthn ----------------------------------------------------------------------------------


class SoftAuthenticator:
    """A passkey in memory: an EC P-256 key answering WebAuthn ceremonies as a browser and a
    security key would, with "none" attestation (what allauth asks for)."""

    FLAGS = AuthenticatorData.FLAG

    def __init__(self, origin):
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def register(self, creation_options):
        options = creation_options["publicKey"]
        credential = AttestedCredentialData.create(
            bytes(16), self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        authenticator_data = AuthenticatorData.create(
            hashlib.sha256(options["rp"]["id"].encode()).digest(),
            self.FLAGS.UP | self.FLAGS.UV | self.FLAGS.AT,
            self.sign_count,
            credential,
        )
        response = RegistrationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=self.client_data("webauthn.create", options["challenge"]),
                attestation_object=AttestationObject.create("none", authenticator_data, {}),
            ),
            # A discoverable credential says so, which makes it a passkey for allauth.
            client_extension_results={"credProps": {"rk": True}},
        )
        return json.dumps(dict(response))

    def assert_(self, request_options, user_handle=None):
        options = request_options["publicKey"]
        self.sign_count += 1
        authenticator_data = AuthenticatorData.create(
            hashlib.sha256(options["rpId"].encode()).digest(),
            self.FLAGS.UP | self.FLAGS.UV,
            self.sign_count,
        )
        client_data = self.client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(authenticator_data + client_data.hash, ec.ECDSA(hashes.SHA256()))
        response = AuthenticationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data,
                authenticator_data=authenticator_data,
                signature=signature,
                user_handle=user_handle,
            ),
        )
        return json.dumps(dict(response))

    def client_data(self, kind, challenge):
        return CollectedClientData.create(type=kind, challenge=challenge, origin=self.origin)


@pytest.fixture
def passkey(settings, client, account):
    """A passkey registered through allauth's pages, with fido2's full origin check on."""
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
    authenticator = SoftAuthenticator(origin="https://testserver")
    log_in(client, account)
    reauthenticate(client)
    page = client.get("/accounts/2fa/webauthn/add/")
    credential = authenticator.register(page.context["js_data"]["creation_options"])
    response = client.post(
        "/accounts/2fa/webauthn/add/",
        {"name": "Soft key", "credential": credential, "passwordless": "on"},
    )
    # The first second factor also brings recovery codes, shown straight away.
    assert response["location"] == "/accounts/2fa/recovery-codes/"
    assert Authenticator.objects.get(user=account, type=Authenticator.Type.WEBAUTHN)
    client.post("/accounts/logout/")
    return authenticator


def test_passkey_as_second_factor(client, account, passkey):
    assert log_in(client, account)["location"] == MFA_AUTHENTICATE
    page = client.get(MFA_AUTHENTICATE)
    credential = passkey.assert_(page.context["js_data"]["request_options"])
    response = client.post(MFA_AUTHENTICATE, {"credential": credential})
    assert response.status_code == 302
    assert signed_in_as(client) == str(account.pk)


def test_passkey_sign_in_without_password(client, account, passkey):
    options = client.get(
        "/accounts/2fa/webauthn/login/", headers={"x-requested-with": "XMLHttpRequest"}
    ).json()["request_options"]
    user_handle = user_pk_to_url_str(account).encode()
    response = client.post(
        "/accounts/2fa/webauthn/login/", {"credential": passkey.assert_(options, user_handle)}
    )
    assert response.status_code == 302
    assert signed_in_as(client) == str(account.pk)


def test_passkey_from_another_origin_is_refused(client, account, passkey):
    passkey.origin = "https://evil.example"
    log_in(client, account)
    page = client.get(MFA_AUTHENTICATE)
    client.post(
        MFA_AUTHENTICATE,
        {"credential": passkey.assert_(page.context["js_data"]["request_options"])},
    )
    assert not signed_in_as(client)


# --- Log-in by code, reauthentication, sessions ------------------------------------------------


def test_log_in_with_a_code_sent_by_email(client, account, mailoutbox):
    response = client.post("/accounts/login/code/", {"email": account.email})
    assert response["location"] == "/accounts/login/code/confirm/"
    (message,) = mailoutbox
    assert message.to == [account.email]
    code = re.search(r"browser window\.\s+(\S+)\s", message.body).group(1)
    assert not signed_in_as(client)

    response = client.post("/accounts/login/code/confirm/", {"code": code})
    assert response.status_code == 302
    assert signed_in_as(client) == str(account.pk)


def test_changing_email_asks_for_the_password_again(client, account, mailoutbox):
    client.force_login(account)  # a session with no recent authentication
    response = client.post("/accounts/email/", {"action_add": "", "email": "new@example.org"})
    assert response["location"].startswith("/accounts/reauthenticate/")
    assert not EmailAddress.objects.filter(email="new@example.org").exists()

    wrong = client.post(response["location"], {"password": "not the password"})
    assert wrong.status_code == 200
    assert not EmailAddress.objects.filter(email="new@example.org").exists()
    # Once the password is given, allauth completes the request it held back.
    client.post(response["location"], {"password": PASSWORD})
    assert EmailAddress.objects.filter(user=account, email="new@example.org").exists()
    assert any("new@example.org" in message.to for message in mailoutbox)


def test_changing_password_needs_the_current_one_and_tells_the_owner(client, account, mailoutbox):
    client.force_login(account)
    new_password = "another long and unlikely passphrase"
    form = {"password1": new_password, "password2": new_password}
    refused = client.post("/accounts/password/change/", {**form, "oldpassword": "guess"})
    assert "Please type your current password." in refused.content.decode()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)

    client.post("/accounts/password/change/", {**form, "oldpassword": PASSWORD})
    account.refresh_from_db()
    assert account.check_password(new_password)
    (notification,) = mailoutbox
    assert notification.to == [account.email]
    assert notification.subject == "[Protectors' Portal] Your password was changed"


def test_sessions_listed_and_others_signed_out(account):
    laptop, phone = (
        Client(headers={"user-agent": "Laptop"}),
        Client(headers={"user-agent": "Phone"}),
    )
    log_in(laptop, account)
    log_in(phone, account)

    page = laptop.get("/accounts/sessions/").content.decode()
    assert "Laptop" in page and "Phone" in page
    laptop.post("/accounts/sessions/")

    assert phone.get("/accounts/email/")["location"].startswith(LOGIN)
    assert laptop.get("/accounts/email/").status_code == 200


# --- Passwords and failed log-ins --------------------------------------------------------------


@pytest.mark.parametrize(
    "password, message",
    [
        ("password1234", "This password is too common."),
        ("Tr0ub4dor&3", "This password is too short. It must contain at least 12 characters."),
    ],
)
def test_signup_refuses_weak_passwords(client, password, message):
    response = client.post(
        "/accounts/signup/",
        {"email": "newcomer@example.org", "password1": password, "password2": password},
    )
    page = response.content.decode()
    assert message in page
    assert 'value="newcomer@example.org"' in page
    assert not get_user_model().objects.filter(email="newcomer@example.org").exists()


def test_sixth_failed_log_in_in_a_row_is_refused(client, account):
    for _ in range(5):
        response = log_in(client, account, password="wrong")
        assert "That e-mail address and password do not match an account." in (
            response.content.decode()
        )
    refused = log_in(client, account)
    assert "Too many failed attempts to sign in." in refused.content.decode()
    assert not signed_in_as(client)


CREATE_ACCOUNT = """
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user(
    username={email!r}, email={email!r}, password={password!r}
)
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
"""


def test_failed_log_ins_are_counted_across_processes(shared_redis_environment, two_processes):
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    manage(
        "shell",
        "-c",
        CREATE_ACCOUNT.format(email=email, password=PASSWORD),
        env=shared_redis_environment,
    )
    first, second = two_processes

    def attempt(site, password):
        # Behind the proxy every process sees the site's one host name, and allauth keys the
        # count by it; the ports here would otherwise make two sites of one.
        browser = requests.Session()
        browser.headers["Host"] = "localhost"
        browser.get(site.url + LOGIN, timeout=10).raise_for_status()
        return browser.post(
            site.url + LOGIN,
            {
                "login": email,
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=10,
        )

    for site in [first, first, first, second, second]:
        response = attempt(site, "wrong")
        assert "do not match an account" in response.text, site.log()
    refused = attempt(first, PASSWORD)
    assert refused.status_code == 200
    assert "Too many failed attempts to sign in." in refused.text
