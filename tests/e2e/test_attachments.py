"""Chromium and files on posts: a member drops an image on the reply form and watches its upload
progress; the other member sees it arrive live; the author puts a content warning on it, the
other member sees it blurred and shows it; a file whose content does not match its name is
refused on the page with the text kept. axe-core and screenshots at both widths along the way."""

import base64
import io
import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.test_forum import (  # noqa: F401 - fixtures
    LIVE,
    check_page,
    open_as,
    open_thread,
    signed_in,
    start_thread,
    unique,
    wait_until_live,
)

pytestmark = pytest.mark.browser


def noisy_png(width=420, height=320):
    """A PNG that does not compress, so its upload takes long enough to watch."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def drop_file(page, name, data, mime):
    """Drop a file on the reply form's drop zone, as a file dragged from the desktop would be."""
    transfer = page.evaluate_handle(
        """([name, encoded, mime]) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )
    page.dispatch_event("[data-reply-form] [data-dropzone]", "drop", {"dataTransfer": transfer})


def watch_progress(page):
    """Collect every percentage the upload list shows, as it shows them."""
    page.evaluate(
        """() => {
            window.progressSeen = [];
            new MutationObserver(() => {
                for (const p of document.querySelectorAll("[data-percent]")) {
                    if (p.textContent) window.progressSeen.push(parseInt(p.textContent, 10));
                }
            }).observe(document.querySelector("[data-attach-list]"),
                       { subtree: true, childList: true, characterData: true });
        }"""
    )


def image_filter(locator):
    return locator.evaluate("(img) => getComputedStyle(img).filter")


def test_attach_by_drop_watch_progress_see_it_live_blur_and_show(open_as):  # noqa: F811
    failures = {}
    moderator = open_as("moderator")
    url = start_thread(moderator, unique("Slides from the summit"), "Post your slides here.")
    wait_until_live(moderator)
    member = open_as("member")
    open_thread(member, url)

    # Drop a file, watch its progress (the upload is slowed so it can be seen), post.
    cdp = member.context.new_cdp_session(member)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )
    text = unique("Happy to share our slides")
    member.get_by_label("Your post").fill(text)
    drop_file(member, "summit-chart.png", noisy_png(), "image/png")
    expect(member.locator("[data-attach-list] li")).to_have_count(1)
    expect(member.locator("[data-attach-list]")).to_contain_text("summit-chart.png")
    watch_progress(member)
    member.get_by_role("button", name="Post reply").click()
    expect(member.get_by_label("Your post")).to_have_value("", timeout=LIVE * 3)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = member.evaluate("window.progressSeen")
    assert any(0 < value < 100 for value in seen), f"no progress between 0 and 100: {seen}"
    expect(member.locator("[data-attach-list] li")).to_have_count(0)

    # The other member sees the post and its image arrive live, unblurred.
    post = moderator.locator("article.post", has_text=text)
    image = post.get_by_role("img", name="Image: summit-chart.png")
    expect(image).to_be_visible(timeout=LIVE)
    assert image_filter(image) == "none"

    # The author warns about it; the other member sees it blurred, with the warning read out
    # with the image and its button, and chooses to show it.
    mine = member.locator("article.post", has_text=text)
    mine.get_by_text("Content warning", exact=False).first.click()
    mine.get_by_label("Applies to").select_option(label="summit-chart.png")
    mine.get_by_label(re.compile("^Reason, in a few words")).fill("Injury photograph")
    mine.get_by_role("button", name="Save warning").click()
    expect(member.get_by_text("The content warning is saved.")).to_be_visible()
    warning = post.locator(".attachment__warning")
    expect(warning).to_have_text("Content warning: Injury photograph", timeout=LIVE)
    image = post.get_by_role("img", name="Image: summit-chart.png")
    expect(image).to_have_accessible_description("Content warning: Injury photograph")
    assert "blur" in image_filter(image)
    show = post.get_by_role("button", name="Show image summit-chart.png")
    expect(show).to_have_accessible_description("Content warning: Injury photograph")
    check_page(moderator, "attachments-blurred", failures)
    moderator.set_viewport_size({"width": 1280, "height": 900})
    show.click()
    expect(show).to_be_hidden()
    assert image_filter(image) == "none"
    check_page(moderator, "attachments-shown", failures)

    # A PNG named .pdf is refused on the page; the text and the file list stay.
    member.set_viewport_size({"width": 1280, "height": 900})
    kept = unique("And the report")
    member.get_by_label("Your post").fill(kept)
    drop_file(member, "report.pdf", noisy_png(40, 30), "application/pdf")
    member.get_by_role("button", name="Post reply").click()
    alert = member.locator("[data-attach-errors]")
    expect(alert).to_contain_text(
        "“report.pdf” is named a PDF document, but its content is a PNG image."
    )
    expect(member.get_by_label("Your post")).to_have_value(kept)
    expect(member.locator("[data-attach-list] li")).to_have_text(re.compile("Refused"))
    alert.scroll_into_view_if_needed()
    check_page(member, "attachments-refused", failures)

    assert failures == {}
