"""Helpers for the Chromium tests: where screenshots go, the widths we check, axe-core results."""

from types import SimpleNamespace

from axe_playwright_python.sync_playwright import Axe

from tests.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"desktop": 1280, "mobile": 390}
BLOCKING_IMPACTS = {"serious", "critical"}
AXE = Axe()
SIDEWAYS_SCROLL = (
    "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
)


def serious_violations(results):
    """axe-core violations of serious or critical impact, as readable strings."""
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def axe_results(page):
    """axe-core's findings for the page, loading axe-core once per page rather than per run."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.axe_script)
    return SimpleNamespace(
        response=page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    )


def page_problems(page):
    """What is wrong with the page as shown: serious axe-core violations, sideways scrolling."""
    problems = serious_violations(axe_results(page))
    overflow = page.evaluate(SIDEWAYS_SCROLL)
    if overflow > 0:
        problems.append(f"page scrolls sideways by {overflow}px")
    return problems


def check_at_both_widths(page, name, failures):
    """A screenshot at each width, nothing serious for axe-core and no sideways scroll; what is
    wrong goes into `failures` under the name and width."""
    for size, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
        problems = page_problems(page)
        if problems:
            failures[f"{name} at {width}px"] = problems
