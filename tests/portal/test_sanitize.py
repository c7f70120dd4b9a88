"""Members' Markdown and HTML come out of `portal.sanitize` without any way to run script, and
ordinary Markdown comes out intact.

The allow-list is written out again here rather than imported, so that widening it in the module
is a deliberate change that these tests notice.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.sanitize import clean_html, extract_mentions, plain_text, render_markdown

CORPUS = Path(__file__).parent / "data" / "xss"
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.txt"))

REL = "nofollow noopener noreferrer ugc"
BARE_TAGS = "p br hr strong em del s pre blockquote ul li h1 h2 h3 h4 h5 h6 table thead tbody tr"
ALLOWED = {tag: set() for tag in BARE_TAGS.split()} | {
    "a": {"href", "title", "rel"},
    "code": {"class"},
    "span": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_VALUES = {
    ("a", "rel"): re.compile(re.escape(REL)),
    ("code", "class"): re.compile(r"language-[A-Za-z0-9_+-]+"),
    ("span", "class"): re.compile(r"mention"),
    ("ol", "start"): re.compile(r"[0-9]{1,9}"),
    ("th", "align"): re.compile(r"left|center|right"),
    ("td", "align"): re.compile(r"left|center|right"),
}
# Browsers ignore these anywhere in a URL, so "java\tscript:" is still javascript.
URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")
SAFE_URL = re.compile(r"(https?|mailto):|/(?![/\\])")


class ExecutionVectors(HTMLParser):
    """Collects everything in a fragment through which a browser could run script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.found.append(f"<{tag}>")
            return
        for name, value in attrs:
            value = value or ""
            if name not in ALLOWED[tag] or name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            elif (tag, name) in ALLOWED_VALUES and not ALLOWED_VALUES[tag, name].fullmatch(value):
                self.found.append(f"<{tag} {name}={value!r}>")
            # html.parser has already decoded entities in attribute values.
            elif name == "href" and not SAFE_URL.match(URL_IGNORED.sub("", value).lower()):
                self.found.append(f"<a href={value!r}>")
        if tag == "a" and dict(attrs).get("rel") != REL:
            self.found.append("<a> without rel")

    def handle_endtag(self, tag):
        if tag not in ALLOWED:
            self.found.append(f"</{tag}>")

    def handle_comment(self, data):
        self.found.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.found.append(f"<!{decl}>")

    def handle_pi(self, data):
        self.found.append(f"<?{data}>")

    def unknown_decl(self, data):
        self.found.append(f"<![{data}]>")


def execution_vectors(html):
    parser = ExecutionVectors()
    parser.feed(html)
    parser.close()
    return parser.found


def load_payloads(name):
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


FEEDS = {
    "html": clean_html,
    "markdown": render_markdown,
    "markdown link": lambda payload: render_markdown(f"[x]({payload})"),
    "autolink": lambda payload: render_markdown(f"<{payload}>"),
}


def test_corpus_is_vendored_with_its_licence():
    assert len(CORPUS_FILES) >= 5
    assert sum(len(load_payloads(name)) for name in CORPUS_FILES) >= 1000
    assert (CORPUS / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_corpus_payloads_cannot_run_script(corpus, feed):
    failures = {}
    for number, payload in enumerate(load_payloads(corpus), start=1):
        output = FEEDS[feed](payload)
        if found := execution_vectors(output):
            failures[number] = (payload, output, found)
    assert failures == {}


def test_checker_catches_what_it_looks_for():
    assert execution_vectors('<a href="java&#9;script:alert(1)">') == [
        "<a href='java\\tscript:alert(1)'>",
        "<a> without rel",
    ]
    assert execution_vectors('<p onclick="x"><img src=x><svg onload=x></svg>') == [
        "<p onclick>",
        "<img>",
        "<svg>",
        "</svg>",
    ]
    assert execution_vectors('<a href="//evil.example" rel="nofollow noopener noreferrer ugc">')
    assert execution_vectors('<span class="mention x">') == ["<span class='mention x'>"]


HTMLISH = st.sampled_from(
    [
        "<", ">", "</", "/>", '"', "'", "`", "=", " ", "\n", "\t", "\x00", "\\", "/",
        "<script>", "</script>", "<style>", "<iframe src=", "<object data=", "<embed src=",
        "<svg onload=", "<math>", "<img src=x onerror=", "<form action=", "<input ",
        "<!--", "-->", "<![CDATA[", "]]>", "<?", "<!DOCTYPE html>", "<noscript>", "<textarea>",
        "<p>", "</p>", "<a href=", "</a>", "<a>", "<span class=", "<code class=", "<pre>",
        "<table>", "<tr>", "<td align=", "</table>", "<ol start=", "<li>", "<br/>",
        "javascript:", "JaVaScRiPt:", "java\tscript:", "java\nscript:", " javascript:",
        "\x01javascript:", "&#106;avascript:", "&#x6A;avascript:", "jav&#x09;ascript:",
        "javascript&colon;", "vbscript:", "data:text/html,", "//evil.example", "/\\evil.example",
        "/forum/", "https://example.org/", "mailto:a@example.org",
        "&lt;", "&gt;", "&amp;", "&quot;", "&#60;", "&#x3C;", "&Tab;", "&NewLine;", "&#0;",
        "onclick=", "onerror=", "style=", "class=", "href=", "src=", "title=", "rel=",
        "mention", "language-py", "alert(1)",
        "[x](", ")", "<http://", "```", "@alice", "**", "> ", "- ", "1. ", "|", "---",
    ]
)  # fmt: skip
TEXT = st.one_of(st.text(), st.lists(st.one_of(HTMLISH, st.text(max_size=4))).map("".join))


@settings(max_examples=300)
@given(TEXT)
def test_arbitrary_markdown_cannot_run_script(source):
    output = render_markdown(source, mentions=["alice"])
    assert execution_vectors(output) == []
    assert clean_html(output) == output


@settings(max_examples=300)
@given(TEXT)
def test_arbitrary_html_cannot_run_script(source):
    output = clean_html(source)
    assert execution_vectors(output) == []
    assert clean_html(output) == output


def test_headings_emphasis_and_quotes():
    assert render_markdown("# One\n\n###### Six\n\n*em* **strong** ~~gone~~\n\n> quoted") == (
        "<h1>One</h1>\n<h6>Six</h6>\n"
        "<p><em>em</em> <strong>strong</strong> <s>gone</s></p>\n"
        "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
    )


def test_lists_keep_their_start():
    assert render_markdown("- a\n- b\n\n3. c\n4. d") == (
        '<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>\n'
    )


def test_code_keeps_its_language_and_its_text():
    assert render_markdown("`<b>` and\n\n```python\nif a < b:\n```") == (
        "<p><code>&lt;b&gt;</code> and</p>\n"
        '<pre><code class="language-python">if a &lt; b:\n</code></pre>\n'
    )
    assert render_markdown("    indented <i>\n") == "<pre><code>indented &lt;i&gt;\n</code></pre>\n"


def test_code_language_outside_the_pattern_is_dropped():
    assert render_markdown('```x"onclick=y\ncode\n```') == "<pre><code>code\n</code></pre>\n"


def test_tables_align_without_style():
    assert render_markdown("| a | b |\n|:-|-:|\n| 1 | 2 |") == (
        "<table>\n<thead>\n<tr>\n"
        '<th align="left">a</th>\n<th align="right">b</th>\n'
        "</tr>\n</thead>\n<tbody>\n<tr>\n"
        '<td align="left">1</td>\n<td align="right">2</td>\n'
        "</tr>\n</tbody>\n</table>\n"
    )


@pytest.mark.parametrize(
    "href",
    ["https://example.org/a?b=1&amp;c=2", "http://example.org/", "mailto:a@example.org", "/forum/"],
)
def test_links_survive_with_rel(href):
    assert render_markdown(f"[x]({href})") == f'<p><a href="{href}" rel="{REL}">x</a></p>\n'


def test_markdown_links_off_the_site_lose_their_target():
    assert render_markdown("[x](//evil.example/) [y](page.html)") == (
        f'<p><a rel="{REL}">x</a> <a rel="{REL}">y</a></p>\n'
    )


@pytest.mark.parametrize(
    "href",
    [
        "//evil.example/",
        "/\\evil.example",
        "/&#9;/evil.example",
        "&#10;//evil.example",
        "ftp://example.org/",
        "data:text/html,x",
        "page.html",
        "#top",
    ],
)
def test_other_links_lose_their_target(href):
    assert clean_html(f'<a href="{href}">x</a>') == f'<a rel="{REL}">x</a>'


def test_script_links_stay_text():
    assert render_markdown("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>\n"


def test_images_become_links_to_the_image():
    assert render_markdown("![a cat](https://example.org/cat.png)") == (
        f'<p>!<a href="https://example.org/cat.png" rel="{REL}">a cat</a></p>\n'
    )
    assert clean_html('<img src="https://tracker.example/pixel.gif">') == ""


def test_raw_html_is_shown_not_obeyed():
    assert render_markdown("<b onclick=x>hi</b>") == "<p>&lt;b onclick=x&gt;hi&lt;/b&gt;</p>\n"


def test_clean_html_keeps_the_allow_list():
    html = '<p class="x" style="color:red">a <span class="mention">@b</span> <u>c</u></p>'
    assert clean_html(html) == '<p>a <span class="mention">@b</span> c</p>'
    assert clean_html("<script>alert(1)</script><svg><desc>x</desc></svg>ok") == "ok"


def test_known_mentions_are_marked_and_unknown_stay_text():
    html = render_markdown("Hi @Alice, @bob and @carol.", mentions=["alice", "BOB"])
    assert html == (
        '<p>Hi <span class="mention">@Alice</span>, '
        '<span class="mention">@bob</span> and @carol.</p>\n'
    )


def test_mentions_are_not_found_in_code_links_addresses_or_escapes():
    source = (
        "`@alice` alice@example.org https://example.social/@alice [@alice](/u) \\@alice\n\n"
        "```\n@alice\n```"
    )
    assert "mention" not in render_markdown(source, mentions=["alice"])
    assert extract_mentions(source) == []


def test_mentions_follow_punctuation_but_not_trailing_dots():
    assert extract_mentions('(@ann) "@bo.b". @c @dee-') == ["ann", "bo.b", "dee"]


def test_extract_mentions_in_order_without_repeats():
    assert extract_mentions("@Zed and @amy, then @ZED and @bob.") == ["zed", "amy", "bob"]


def test_handles_longer_than_forty_characters_are_not_mentions():
    assert extract_mentions("@" + "a" * 40 + " @" + "b" * 41) == ["a" * 40]


def test_plain_text():
    html = render_markdown("# Title\n\nSome *text* & `<code>`\n\n- one\n- two", mentions=["x"])
    assert plain_text(html) == "Title Some text & <code> one two"
