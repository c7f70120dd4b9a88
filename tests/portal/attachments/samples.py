"""Files for attachment tests, made on the spot: images, PDFs, office files, EICAR and bombs."""

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageDraw

# The EICAR anti-virus test file, in two halves so that this source file is not itself "infected".
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def picture(seed, size=(320, 240)):
    """An image of coloured discs, different for every seed and without symmetry."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        radius = int(rng.integers(8, size[0] // 4))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    return image


def encoded(image, kind="PNG", **options):
    output = io.BytesIO()
    image.save(output, kind, **options)
    return output.getvalue()


def pdf(*pages):
    """A PDF with a page showing each text in Helvetica, with a correct cross-reference table."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * page} 0 R" for page in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids.encode(), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * page)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def archive(parts, first=None):
    """A zip archive of {name: bytes}; `first` goes first, uncompressed (ODT's mimetype)."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zipped:
        if first:
            zipped.writestr(first[0], first[1], compress_type=zipfile.ZIP_STORED)
        for name, content in parts.items():
            zipped.writestr(name, content)
    return output.getvalue()


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="urn:x"/>'


def docx(*paragraphs):
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    document = (
        f'<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body>{body}</w:body></w:document>'
    )
    return archive({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": document})


def xlsx(*cells):
    strings = "".join(f"<si><t>{text}</t></si>" for text in cells)
    shared = f'<?xml version="1.0"?><sst xmlns="urn:s">{strings}</sst>'
    return archive({"[Content_Types].xml": CONTENT_TYPES, "xl/sharedStrings.xml": shared})


def pptx(*slides):
    parts = {"[Content_Types].xml": CONTENT_TYPES}
    for number, text in enumerate(slides, start=1):
        parts[f"ppt/slides/slide{number}.xml"] = (
            f'<p:sld xmlns:p="urn:p" xmlns:a="urn:a"><a:p><a:r><a:t>{text}</a:t></a:r></a:p>'
            "</p:sld>"
        )
    return archive(parts)


def odt(*paragraphs):
    body = "".join(f"<text:p>{text}</text:p>" for text in paragraphs)
    content = (
        '<office:document-content xmlns:office="urn:o" xmlns:text="urn:t"><office:body>'
        f"<office:text>{body}</office:text></office:body></office:document-content>"
    )
    return archive(
        {"content.xml": content},
        first=("mimetype", b"application/vnd.oasis.opendocument.text"),
    )


def png_header_only(width, height):
    """A PNG that declares `width` × `height` pixels in a few bytes: a decompression bomb's
    announcement, refused before any pixel is decoded."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
