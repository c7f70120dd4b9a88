from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    """The site's root page: an introduction, then the ways into the library and the portal."""

    introduction = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = [*Page.content_panels, FieldPanel("introduction")]

    parent_page_types = ["wagtailcore.Page"]
    max_count = 1
