from tests.e2e.conftest import browser  # noqa: F401 - the same Chromium as the e2e tests
