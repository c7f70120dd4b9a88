import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# JSON inside <script> must not be able to close the tag or open a comment.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


@register.simple_tag(takes_context=True)
def item_structured_data(context, page):
    """schema.org metadata for a library item, as JSON-LD."""
    request = context["request"]
    data = {
        "@context": "https://schema.org",
        "@type": "CreativeWork",
        "name": page.title,
        "description": page.summary,
        "url": page.get_full_url(request),
        "datePublished": page.publication_date.isoformat(),
        "inLanguage": page.language,
        "genre": page.resource_type.name,
        "publisher": [
            {"@type": "Organization", "name": p.name, **({"url": p.website} if p.website else {})}
            for p in page.publishers
        ],
    }
    payload = json.dumps(data, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))  # noqa: S308
