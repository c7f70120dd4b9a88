"""Chromium loads the running site: home page rendered, screenshots taken, axe-core clean, and a
WebSocket opened from the page round-trips through the channel layer."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations

pytestmark = pytest.mark.browser


def test_home_page_in_chromium(browser, running_site):
    for name, width in WIDTHS.items():
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(running_site.url + "/")
        assert page.locator("h1").inner_text() == "Protectors' Portal"
        assert page.get_by_text("Everything in the library is open to everyone.").is_visible()
        page.screenshot(path=SCREENSHOTS / f"home-{name}.png", full_page=True)
        assert serious_violations(Axe().run(page)) == []
        page.close()


def test_websocket_from_the_page(browser, running_site):
    page = browser.new_page()
    page.goto(running_site.url + "/")
    reply = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const socket = new WebSocket(location.origin.replace('http', 'ws') + '/ws/ping/');
            const message = {type: 'ping', payload: 'from chromium'};
            socket.onopen = () => socket.send(JSON.stringify(message));
            socket.onmessage = (event) => { resolve(JSON.parse(event.data)); socket.close(); };
            socket.onerror = () => reject(new Error('websocket failed'));
            setTimeout(() => reject(new Error('no reply in 5 s')), 5000);
        })"""
    )
    assert reply == {"type": "pong", "payload": "from chromium", "authenticated": False}
    page.close()
