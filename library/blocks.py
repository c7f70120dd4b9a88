"""StreamField blocks for library item bodies."""

from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock

RICH_TEXT_FEATURES = ["h2", "h3", "bold", "italic", "link", "document-link", "ol", "ul"]
# A section's own heading is its h2, so its text starts at h3.
SECTION_TEXT_FEATURES = ["h3", "bold", "italic", "link", "document-link", "ol", "ul"]


class QuoteBlock(blocks.StructBlock):
    quote = blocks.TextBlock()
    attribution = blocks.CharBlock(required=False, max_length=200)

    class Meta:
        icon = "openquote"
        template = "library/blocks/quote.html"


class DocumentLinkBlock(blocks.StructBlock):
    document = DocumentChooserBlock()
    label = blocks.CharBlock(required=False, max_length=200, help_text="Defaults to the title.")

    class Meta:
        icon = "doc-full"
        template = "library/blocks/document_link.html"


class CalloutBlock(blocks.StructBlock):
    heading = blocks.CharBlock(max_length=120)
    text = blocks.RichTextBlock(features=["bold", "italic", "link"])

    class Meta:
        icon = "warning"
        template = "library/blocks/callout.html"


class SectionBlock(blocks.StructBlock):
    """A headed part of a longer item such as a briefing; the item page lists its sections."""

    heading = blocks.CharBlock(max_length=120)
    text = blocks.RichTextBlock(features=SECTION_TEXT_FEATURES)

    class Meta:
        icon = "list-ul"
        template = "library/blocks/section.html"


class BodyBlock(blocks.StreamBlock):
    section = SectionBlock()
    paragraph = blocks.RichTextBlock(features=RICH_TEXT_FEATURES)
    quote = QuoteBlock()
    embed = EmbedBlock(max_width=800)
    document = DocumentLinkBlock()
    callout = CalloutBlock()
