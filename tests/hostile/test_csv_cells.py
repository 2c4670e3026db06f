"""CSV formula neutralisation (issue 17, item 10): a spreadsheet also runs a formula after leading
blanks and in fullwidth signs, and bidirectional controls can disguise what a cell says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metering.export import safe_cell


@pytest.mark.parametrize("text", [
    " =cmd|' /C calc'!A0", "\t=1+1", "  +1", " -1", " @SUM(A1)", "\r\n=1",
    "＝cmd", "＋1", "－1", "＠SUM(A1)", " ＝1",
])
def test_formulas_behind_blanks_or_in_fullwidth_are_neutralised(text):
    assert safe_cell(text).startswith("'"), safe_cell(text)


@pytest.mark.parametrize("text,expected", [
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("\u2066=1+1\u2069", "'=1+1"),
    ("a\u202ab\u202bc\u202cd\u202de\u2067f\u2068g", "abcdefg"),
    ("mark\u200e\u200fed\u061c", "marked"),
])
def test_bidirectional_controls_are_stripped(text, expected):
    assert safe_cell(text) == expected


def test_plain_text_and_numbers_are_left_alone():
    assert safe_cell("web-1") == "web-1"
    assert safe_cell("a = b") == "a = b"
    assert safe_cell(Decimal("-1.50")) == "-1.50"
    assert safe_cell(-3) == "-3"


@given(st.text(alphabet=st.sampled_from(list("ab =+-@\t\r\n'1.\u202e\u2066＝é")), max_size=8) | st.text(max_size=8))
def test_the_fast_path_for_plain_text_agrees_with_the_rule(text):
    """Issue 21: plain ASCII text skips the scan; whatever the text, the cell is what the rule says."""
    from metering.export import BIDI_CONTROLS, DANGEROUS

    cleaned = text.translate(BIDI_CONTROLS)
    risky = cleaned.lstrip(" \t\r\n").startswith(DANGEROUS) or cleaned.startswith(DANGEROUS)
    assert safe_cell(text) == ("'" + cleaned if risky else cleaned)
