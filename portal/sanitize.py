"""The one place where members' writing becomes HTML.

Everything a member writes (posts, and any other Markdown they author) is rendered and cleaned
here and nowhere else, so there is exactly one allow-list to review, test and keep tight. Markdown
is rendered by markdown-it-py with raw HTML switched off, and its output is then passed through
nh3, the Python binding of the Rust sanitiser ammonia, as an allow-list: whatever is not listed
below is removed, even if markdown-it-py itself never produces it. The README records why nh3 and
not bleach.

The HTML returned by `render_markdown` and `clean_html` is safe to mark as safe in templates; the
text returned by `plain_text` is unescaped and must be escaped again wherever it goes into HTML.
"""

import re
from collections.abc import Iterable
from html import unescape

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

_LINK_REL = "nofollow noopener noreferrer ugc"

# No <img>: a hot-linked image or tracking pixel makes every reader's browser fetch a URL the
# author chose, which tells that server each member's IP address and when they read the thread.
_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
# The content of these is code, markup or form state, never prose: drop it rather than show it.
_CLEAN_CONTENT_TAGS = {
    "script", "style", "template", "noscript", "iframe", "object", "embed",
    "svg", "math", "textarea", "title",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto"}

_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+-]+")
_ALIGNMENTS = {"left", "center", "right"}
_URL_IGNORED = str.maketrans("", "", "\t\n\r")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TEXT_ALIGN = re.compile(r"text-align:(left|center|right)")

# A handle starts after the beginning of a text run, whitespace or punctuation, but not after a
# word character (e-mail addresses), "@" or "/" (URLs such as https://example.social/@name), and
# does not end in "." or "-" so that sentence punctuation after it is not taken as part of it.
_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_.-]*[A-Za-z0-9_])")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        if tag == "code" and _LANGUAGE_CLASS.fullmatch(value):
            return value
        if tag == "span" and value == "mention":
            return value
        return None
    if attribute == "start":
        return value if value.isascii() and value.isdigit() and len(value) <= 9 else None
    if attribute == "align":
        return value if value in _ALIGNMENTS else None
    # Other allowed attributes, and the rel that nh3 adds to every link, pass unchanged.
    return value


def _same_site_path(url: str) -> str | None:
    """Keep relative links only when they are paths on this site ("/forum/…"), so members can link
    to threads and library pages; other relative forms would resolve differently depending on the
    page showing the post. Browsers drop tabs and newlines anywhere in a URL and read "\\" as "/",
    so "/<tab>/evil.example" and "/\\evil.example" would leave the site: those are refused."""
    path = url.translate(_URL_IGNORED).lstrip(_C0_AND_SPACE)
    if path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return None


_cleaner = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_CLEAN_CONTENT_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=_URL_SCHEMES,
    url_relative=_same_site_path,
    link_rel=_LINK_REL,
)


def clean_html(html: str) -> str:
    """Reduce any HTML to the forum's allow-list."""
    return _cleaner.clean(html)


def _mention_tokens(text: str, prev: str, state: StateCore) -> list[Token]:
    """Split one text token into text and mention spans, recording every handle seen."""
    known = state.env["known"]
    tokens = []
    start = 0
    for match in _MENTION.finditer(prev + text, len(prev)):
        handle = match.group(1)
        if not 2 <= len(handle) <= 40:
            continue
        state.env["seen"].append(handle.lower())
        if handle.lower() not in known:
            continue
        begin, end = match.start() - len(prev), match.end() - len(prev)
        if begin > start:
            tokens.append(_text(text[start:begin]))
        opening = Token("mention_open", "span", 1, attrs={"class": "mention"})
        tokens += [opening, _text(text[begin:end]), Token("mention_close", "span", -1)]
        start = end
    if start < len(text):
        tokens.append(_text(text[start:]))
    return tokens


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _mentions(state: StateCore) -> None:
    """Find @handles in prose. Code spans and blocks are separate tokens, so they are never looked
    at; link text is skipped because the link already says where it goes. It runs before
    markdown-it joins escapes into the text, so "\\@name" stays plain text."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children = []
        in_link = 0
        prev = ""
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type == "text" and not in_link:
                children += _mention_tokens(token.content, prev, state)
            else:
                children.append(token)
            # After an escape or entity the text continues in the next token.
            prev = token.content[-1:] if token.type in ("text", "text_special") else ""
        block.children = children


def _table_alignment(state: StateCore) -> None:
    """markdown-it aligns cells with a style attribute; style is not allowed, align is."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and (style := token.attrGet("style")):
            del token.attrs["style"]
            if match := _TEXT_ALIGN.fullmatch(str(style)):
                token.attrSet("align", match.group(1))


_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable(["table", "strikethrough"])
    # Images would be dropped by the cleaner together with their alt text; without the image rule
    # "![alt](url)" reads as "!" and a link to the picture, which the reader may choose to open.
    .disable("image")
)
_markdown.core.ruler.before("text_join", "mentions", _mentions)
_markdown.core.ruler.push("table_alignment", _table_alignment)


def render_markdown(source: str, mentions: Iterable[str] = ()) -> str:
    """Render a member's Markdown to clean HTML; `@handle`s of the given members are marked up."""
    env = {"known": {handle.lower() for handle in mentions}, "seen": []}
    return clean_html(_markdown.render(source, env))


def extract_mentions(source: str) -> list[str]:
    """The distinct lowercase handles mentioned outside code, in order of first appearance."""
    env = {"known": set(), "seen": []}
    _markdown.parse(source, env)
    return list(dict.fromkeys(env["seen"]))


def plain_text(html: str) -> str:
    """The text of rendered HTML, for search indexing, notifications and e-mails. Blocks rendered
    by `render_markdown` are separated by newlines, so words of adjacent blocks do not run
    together."""
    text = unescape(nh3.clean(html, tags=set()))
    return " ".join(text.split())
