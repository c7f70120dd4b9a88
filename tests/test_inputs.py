"""inputs: whole numbers and text from strangers, read the same way at every door."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import inputs

C0_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
bounds = st.one_of(st.none(), st.integers(min_value=-(10**20), max_value=10**20))
anything = st.one_of(
    st.text(),
    st.from_regex(r"\A[0-9]{1,40}\Z"),
    st.text(alphabet=st.characters(categories=("Nd", "No")), max_size=8),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(),
)


@given(raw=anything, low=bounds, high=bounds)
def test_integer_never_raises_and_stays_within_bounds(raw, low, high):
    value = inputs.integer(raw, low=low, high=high)
    assert value is None or type(value) is int
    if value is not None:
        assert 0 <= value < 10**18
        assert low is None or value >= low
        assert high is None or value <= high


@given(number=st.integers(min_value=0, max_value=10**18 - 1))
def test_integer_reads_plain_ascii_numbers_and_ints_alike(number):
    assert inputs.integer(str(number)) == number
    assert inputs.integer(number) == number


@pytest.mark.parametrize(
    "raw",
    ["²", "١٢", "１２", " 1", "1 ", "+1", "-1", "1_000", "1.0", "1e3", "", "9" * 19, "9" * 5000],
)
def test_integer_refuses_what_int_would_read_or_choke_on(raw):
    assert inputs.integer(raw) is None
    assert inputs.integer(raw, default=7) == 7


@pytest.mark.parametrize("raw", [True, False, 1.0, -1, 10**18, None, b"1"])
def test_integer_refuses_other_types_and_out_of_range_ints(raw):
    assert inputs.integer(raw) is None


def test_integer_applies_bounds():
    assert inputs.integer("5", low=1, high=10) == 5
    assert inputs.integer("0", low=1) is None
    assert inputs.integer("11", high=10, default=1) == 1


def test_integers_keeps_the_good_ones_in_order_up_to_the_limit():
    assert inputs.integers(["3", "²", "1", "x", "2", "9" * 5000], low=1) == [3, 1, 2]
    assert inputs.integers(["1", "2", "3"], limit=2) == [1, 2]
    assert inputs.integers(["0", "5"], low=1, high=4) == []


# Any text, and text rich in what cleaning removes or joins: controls, combining marks and the
# lone surrogates a broken escape leaves.
texts = st.one_of(st.text(), st.text(st.characters(categories=("Cc", "Cs", "L", "Mn", "Nd"))))


@given(value=texts)
def test_clean_text_leaves_no_nul_or_controls_and_is_idempotent(value):
    cleaned = inputs.clean_text(value)
    assert not C0_BUT_WHITESPACE.search(cleaned)
    assert inputs.clean_text(cleaned) == cleaned
    cleaned.encode("utf-8")  # nothing a database or a response could not encode


@given(value=texts)
def test_clean_text_keeps_tabs_and_line_breaks(value):
    assert inputs.clean_text(f"a\tb\r\n{value}").startswith("a\tb\r\n")


def test_clean_text_changes_nothing_but_controls_and_surrogates():
    """Passwords pass through it: a decomposed accent must stay as it was typed."""
    assert inputs.clean_text("e\x00\u0301") == "e\u0301"


def test_clean_text_drops_surrogates_from_broken_escapes():
    assert inputs.clean_text("a\ud800b") == "ab"


def test_id_converter_matches_what_integer_reads():
    converter = inputs.IdConverter()
    assert re.fullmatch(converter.regex, "123")
    assert not re.fullmatch(converter.regex, "9" * 19)
    assert not re.fullmatch(converter.regex, "١٢")
    assert converter.to_python("42") == 42
    assert converter.to_url(42) == "42"
