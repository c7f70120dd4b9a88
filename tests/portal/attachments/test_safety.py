"""The attachment safety pipeline against a real clamd and real files (portal/attachments)."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from PIL.ExifTags import GPS, Base

from config import env
from portal.attachments import hashlist
from portal.attachments.checks import malware_scanner
from portal.attachments.safety import (
    ALLOWED,
    Inspected,
    Matched,
    Refused,
    ScannerUnavailable,
    inspect,
    scan,
)
from portal.models import HashListEntry
from tests.conftest import closed_port_url
from tests.portal.attachments import samples


@pytest.fixture
def unscanned(settings):
    """The steps after the malware scan, which the clamd tests below cover."""
    settings.ATTACHMENT_SCAN = "off"
    return settings


@pytest.fixture
def scanned(settings, clamd_url):
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = clamd_url
    return settings


# --- clamd -------------------------------------------------------------------------------------


def test_eicar_is_refused_with_a_clear_message(scanned):
    with pytest.raises(Refused) as refused:
        scan(samples.EICAR)
    assert str(refused.value) == (
        "This file was refused: the malware scanner found “Portal.Test.EICAR.UNOFFICIAL” in it."
    )
    with pytest.raises(Refused, match="^“minutes.pdf” was refused: the malware scanner found"):
        inspect("minutes.pdf", samples.pdf("Minutes") + samples.EICAR)


@pytest.mark.django_db
def test_a_clean_pdf_passes_with_its_text(scanned):
    data = samples.pdf("Grooming indicators in online games")
    result = inspect("Report 2026.PDF", data)
    assert result == Inspected(
        content=data,
        content_type="application/pdf",
        extension=".pdf",
        is_image=False,
        text="Grooming indicators in online games",
        pdq=None,
    )


@pytest.mark.parametrize(
    "url",
    [closed_port_url("tcp"), "unix:///nonexistent/clamd.sock", ""],
    ids=["closed port", "missing socket", "unset"],
)
def test_unreachable_or_unset_scanner_leaves_the_file_pending(settings, url):
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = url
    with pytest.raises(ScannerUnavailable):
        inspect("notes.pdf", samples.pdf("Notes"))


def test_production_is_warned_when_no_scanner_is_configured(settings):
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = ""
    assert [warning.id for warning in malware_scanner(None)] == ["portal.W001"]
    settings.CLAMD_URL = "tcp://127.0.0.1:3310"
    assert malware_scanner(None) == []


@pytest.mark.parametrize(
    "raw",
    ["tcp://127.0.0.1", "http://127.0.0.1:3310", "unix://host/clamd.sock", "clamd.sock"],
)
def test_bad_clamd_url_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("CLAMD_URL", raw)
    with pytest.raises(env.ConfigError, match="^CLAMD_URL: "):
        env.clamd_url("CLAMD_URL")


# --- type from content -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "holiday.pdf",
            samples.encoded(samples.picture(1)),
            "“holiday.pdf” is named a PDF document, but its content is a PNG image. "
            "Rename it to .png or attach the right file.",
        ),
        (
            "C:\\Users\\me\\slides.pptx",
            samples.docx("Hello"),
            "“slides.pptx” is named a PowerPoint presentation (PPTX), but its content is a Word "
            "document (DOCX). Rename it to .docx or attach the right file.",
        ),
        (
            "report.pdf",
            b"<html><script>alert(1)</script></html>",
            "“report.pdf” is named a PDF document, but its content is not one: "
            "attach PDF, DOCX, XLSX, PPTX, ODT, PNG, JPEG or WebP files.",
        ),
        (
            "tool.exe",
            b"MZ\x90\x00",
            "“tool.exe” is not a kind of file we accept: "
            "attach PDF, DOCX, XLSX, PPTX, ODT, PNG, JPEG or WebP files.",
        ),
        (
            "notes.docx",
            samples.archive({"notes.txt": b"plain"}),
            "“notes.docx” is named a Word document (DOCX), but its content is not one: "
            "attach PDF, DOCX, XLSX, PPTX, ODT, PNG, JPEG or WebP files.",
        ),
    ],
    ids=["png named pdf", "docx named pptx", "html named pdf", "exe", "plain zip named docx"],
)
def test_type_must_agree_with_the_name_and_the_allow_list(unscanned, name, data, message):
    with pytest.raises(Refused) as refused:
        inspect(name, data)
    assert str(refused.value) == message


def test_zip_bomb_office_file_is_refused(unscanned):
    unscanned.ATTACHMENT_MAX_UNPACKED_BYTES = 1024 * 1024
    bomb = samples.archive(
        {"[Content_Types].xml": samples.CONTENT_TYPES, "word/document.xml": b"\0" * 2_000_000}
    )
    assert len(bomb) < 10_000
    with pytest.raises(Refused) as refused:
        inspect("bomb.docx", bomb)
    assert str(refused.value) == "“bomb.docx” was refused: it unpacks to more than 1 MB."


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        (
            "a.docx",
            samples.docx("Safeguarding policy", "Version 2"),
            "Safeguarding policy\nVersion 2",
        ),
        ("a.xlsx", samples.xlsx("Country", "Reports"), "Country\nReports"),
        ("a.pptx", samples.pptx("Slide one", "Slide two"), "Slide one\nSlide two"),
        ("a.odt", samples.odt("Hotline data", "2026 figures"), "Hotline data\n2026 figures"),
        ("a.pdf", samples.pdf("Takedown times"), "Takedown times"),
    ],
)
def test_text_is_extracted(unscanned, name, data, text):
    result = inspect(name, data)
    kind = name.rsplit(".", 1)[1].upper()
    assert (result.text, result.content, result.content_type, result.is_image) == (
        text,
        data,
        ALLOWED[kind][1],
        False,
    )


def test_office_xml_with_entities_is_refused(unscanned):
    billion_laughs = (
        '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><w:document xmlns:w="urn:w">&b;'
        "</w:document>"
    )
    data = samples.archive(
        {"[Content_Types].xml": samples.CONTENT_TYPES, "word/document.xml": billion_laughs}
    )
    with pytest.raises(Refused, match="^“laughs.docx” was refused: its part word/document.xml"):
        inspect("laughs.docx", data)


# --- images ------------------------------------------------------------------------------------


def dihedral(image):
    """The seven other rotations and flips of an image."""
    transpose = Image.Transpose
    return [
        image.transpose(operation)
        for operation in (
            transpose.ROTATE_90,
            transpose.ROTATE_180,
            transpose.ROTATE_270,
            transpose.FLIP_LEFT_RIGHT,
            transpose.FLIP_TOP_BOTTOM,
            transpose.TRANSPOSE,
            transpose.TRANSVERSE,
        )
    ]


@pytest.mark.django_db
def test_listed_image_is_matched_in_every_rotation_and_flip(unscanned):
    listed = samples.picture(seed=7)
    first = inspect("listed.png", samples.encoded(listed))
    hashlist.load(hashlist.read_csv(f"hash,quality\n{first.pdq},100\n"), source="Test list")
    entry = HashListEntry.objects.get(source="Test list")

    for kind, image in [("PNG", listed), *(("PNG", turned) for turned in dihedral(listed))]:
        result = inspect("copy.png", samples.encoded(image, kind))
        assert isinstance(result, Matched), result
        assert result.entry_id == entry.pk and result.distance <= 31
    # Saved again as a JPEG and made smaller, it still matches.
    smaller = listed.resize((200, 150))
    assert isinstance(inspect("copy.jpg", samples.encoded(smaller, "JPEG", quality=70)), Matched)

    unrelated = inspect("cat.png", samples.encoded(samples.picture(seed=8)))
    assert isinstance(unrelated, Inspected) and unrelated.is_image


@pytest.mark.django_db
def test_reencoding_drops_gps_and_applies_the_orientation(unscanned):
    exif = Image.Exif()
    exif[Base.Orientation] = 6  # shown rotated 90° clockwise
    exif[Base.Make] = "PhoneCo"
    exif.get_ifd(Base.GPSInfo).update(
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (51.0, 30.0, 0.0), GPS.GPSLongitudeRef: "W"}
    )
    photo = samples.encoded(
        samples.picture(3, (320, 240)), "JPEG", exif=exif, icc_profile=b"\0" * 200
    )
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(Base.GPSInfo)

    result = inspect("IMG_0001.JPG", photo)
    assert (result.content_type, result.extension, result.is_image) == ("image/jpeg", ".jpg", True)
    served = Image.open(io.BytesIO(result.content))
    assert served.size == (240, 320)
    assert (
        not served.getexif() and "icc_profile" not in served.info and b"GPS" not in result.content
    )
    assert b"PhoneCo" not in result.content


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["PNG", "WebP"])
def test_png_text_and_webp_metadata_are_dropped(unscanned, kind):
    from PIL.PngImagePlugin import PngInfo

    options = {"PNG": {"pnginfo": PngInfo()}, "WebP": {"xmp": b"<x:xmpmeta>secret</x:xmpmeta>"}}[
        kind
    ]
    if kind == "PNG":
        options["pnginfo"].add_text("Comment", "secret")
    translucent = samples.picture(4).convert("RGBA")
    translucent.putalpha(128)
    data = samples.encoded(translucent, kind.upper(), **options)
    assert b"secret" in data
    result = inspect(f"shot.{kind.lower()}", data)
    assert b"secret" not in result.content
    assert Image.open(io.BytesIO(result.content)).mode == "RGBA"


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (9_000, 9_000, "and it has 9,000 × 9,000."),
        (100_000, 100_000, "million pixels."),
    ],
)
def test_decompression_bomb_is_refused_before_decoding(unscanned, width, height, message):
    with pytest.raises(Refused) as refused:
        inspect("bomb.png", samples.png_header_only(width, height))
    assert str(refused.value).startswith(
        "“bomb.png” is too large to process: we accept images of up to 50 million pixels"
    )
    assert str(refused.value).endswith(message)


def test_damaged_image_is_refused(unscanned):
    data = samples.encoded(samples.picture(5), "JPEG")[:400]
    with pytest.raises(
        Refused, match="^“cut.jpg” cannot be read as a JPEG image; it may be damaged"
    ):
        inspect("cut.jpg", data)


# --- the hash list -----------------------------------------------------------------------------

HASH_A = "f" * 64
HASH_B = "0123456789abcdef" * 4


def test_hash_list_csv_with_and_without_a_header():
    with_header = f"id,signal_value,quality,tags\n1,{HASH_A.upper()},90,x\n2,{HASH_B},,y\n"
    assert [(h.pdq, h.quality) for h in hashlist.read_csv(with_header)] == [
        (HASH_A, 90),
        (HASH_B, None),
    ]
    plain = f"# exported 2026-12-01\n{HASH_A},100\n\n{HASH_B}\n"
    assert [h.pdq for h in hashlist.read_csv(plain)] == [HASH_A, HASH_B]
    with pytest.raises(hashlist.HashListError, match="^line 3: 'abc' is not a PDQ hash"):
        hashlist.read_csv(f"pdq,quality\n{HASH_A},80\nabc,80\n")
    with pytest.raises(hashlist.HashListError, match="^line 2: quality '101'"):
        hashlist.read_csv(f"{HASH_A},100\n{HASH_B},101\n")
    with pytest.raises(hashlist.HashListError, match="^line 1: no hash column"):
        hashlist.read_csv("md5,sha1\n")


@pytest.mark.django_db
def test_load_hash_list_command(tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text(f"hash,quality\n{HASH_A},100\n{HASH_B},20\n")
    out = io.StringIO()
    call_command("load_hash_list", str(listing), "--source", "Programme X", stdout=out)
    assert out.getvalue().strip() == (
        "Programme X: 1 hashes added, 0 already listed, 1 below quality 50 left out"
    )
    call_command("load_hash_list", str(listing), "--source", "Programme X", stdout=out)
    assert "0 hashes added, 1 already listed" in out.getvalue()
    assert list(HashListEntry.objects.values_list("source", "pdq")) == [("Programme X", HASH_A)]

    listing.write_text(f"{HASH_B},90\n")
    out = io.StringIO()
    call_command("load_hash_list", str(listing), "--source", "Programme X", "--replace", stdout=out)
    assert out.getvalue().strip().endswith(", 1 removed first")
    assert list(HashListEntry.objects.values_list("pdq", flat=True)) == [HASH_B]

    listing.write_text("not,a,list\n")
    with pytest.raises(CommandError, match="list.csv: line 1: no hash column"):
        call_command("load_hash_list", str(listing), "--source", "Programme X")


def test_nearest_agrees_with_brute_force():
    rng = np.random.default_rng(11)
    words = rng.integers(0, 2**64, size=(hashlist.BLOCK + 500, 4), dtype=np.uint64)
    queries = rng.integers(0, 2**64, size=(8, 4), dtype=np.uint64)
    # Plant near copies of two queries, one across the block boundary, with bits flipped in
    # every word, so that no word alone is close.
    for row, query, flips in [(hashlist.BLOCK + 3, 2, 7), (10, 5, 4)]:
        words[row] = queries[query]
        for word in range(4):
            words[row, word] ^= np.uint64((1 << flips) - 1)
    index = hashlist.HashIndex(np.arange(len(words)) + 1000, words)

    distances = np.bitwise_count(words[None, :, :] ^ queries[:, None, :]).sum(axis=2)
    query, row = np.unravel_index(distances.argmin(), distances.shape)
    assert index.nearest(queries, 31) == (int(distances.min()), int(row) + 1000, int(query))
    assert int(distances.min()) == 16
    assert index.nearest(queries, 15) is None
    assert hashlist.HashIndex([], np.empty((0, 4))).nearest(queries, 31) is None


@pytest.mark.django_db
def test_staff_add_a_hash_in_the_admin_and_it_matches_at_once(unscanned, client):
    from tests.people import make_person

    staff = make_person("staff")
    client.force_login(staff)
    image = samples.encoded(samples.picture(seed=21))
    assert isinstance(inspect("new.png", image), Inspected)
    pdq = inspect("new.png", image).pdq

    refused = client.post(
        "/admin/snippets/portal/hashlistentry/add/",
        {"pdq": pdq.upper(), "quality": "100", "source": "Reported by a hotline", "note": ""},
    )
    assert refused.status_code == 200
    assert "A PDQ hash is 64 lower-case hexadecimal digits" in refused.content.decode()

    added = client.post(
        "/admin/snippets/portal/hashlistentry/add/",
        {"pdq": pdq, "quality": "100", "source": "Reported by a hotline", "note": ""},
    )
    assert added.status_code == 302
    entry = HashListEntry.objects.get()
    assert entry.added_by == staff
    assert inspect("again.png", image) == Matched(pdq=pdq, distance=0, entry_id=entry.pk)

    deleted = client.post(f"/admin/snippets/portal/hashlistentry/delete/{entry.pk}/")
    assert deleted.status_code == 302 and not HashListEntry.objects.exists()
    assert isinstance(inspect("again.png", image), Inspected)


@pytest.mark.django_db
def test_sixteen_bit_greyscale_is_hashed_as_it_looks(unscanned):
    """Pillow clips 16-bit greyscale to white when it converts it; the pipeline scales it, so the
    picture is hashed and served as it looks and cannot slip past the hash list."""
    eight = samples.picture(seed=12).convert("L")
    sixteen = Image.fromarray(np.asarray(eight).astype(np.uint16) * 257)
    assert sixteen.mode == "I;16"
    as_eight, as_sixteen = (
        inspect("grey.png", samples.encoded(eight)),
        inspect("grey.png", samples.encoded(sixteen)),
    )
    assert as_sixteen.pdq == as_eight.pdq
    assert Image.open(io.BytesIO(as_sixteen.content)).mode == "L"


@pytest.mark.django_db
def test_listed_image_is_matched_even_while_clamd_is_away(settings):
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = closed_port_url("tcp")
    image = samples.encoded(samples.picture(seed=31))
    with pytest.raises(ScannerUnavailable):
        inspect("unlisted.png", image)
    settings.ATTACHMENT_SCAN = "off"
    pdq = inspect("unlisted.png", image).pdq
    hashlist.load([hashlist.ListedHash(pdq, 100)], source="Test list")
    settings.ATTACHMENT_SCAN = "clamd"
    assert isinstance(inspect("listed.png", image), Matched)


@pytest.mark.django_db
def test_health_reports_the_scanner(settings, client, clamd_url):
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = clamd_url
    assert client.get("/healthz").json()["checks"]["scanner"]["ok"] is True
    settings.CLAMD_URL = closed_port_url("tcp")
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert (body["checks"]["scanner"]["ok"], body["checks"]["scanner"]["variable"]) == (
        False,
        "CLAMD_URL",
    )
