"""Helpers for the Chromium tests: where screenshots go, the widths we check, axe-core results."""

from tests.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"desktop": 1280, "mobile": 390}
BLOCKING_IMPACTS = {"serious", "critical"}


def serious_violations(results):
    """axe-core violations of serious or critical impact, as readable strings."""
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]
