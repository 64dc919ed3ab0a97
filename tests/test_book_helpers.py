"""The chapters' helpers (implicit_bias.book): dtype parameters, rounded numbers and the claim checks."""

import math

import pytest
import torch

from implicit_bias import book
from implicit_bias.claims import Claim, at_least, at_most, between, equals, within


def test_torch_dtype_maps_the_papermill_string_and_refuses_others():
    assert book.torch_dtype("float64") is torch.float64 and book.torch_dtype("float32") is torch.float32
    with pytest.raises(ValueError, match=r"dtype must be one of 'float64', 'float32', got 'int8'"):
        book.torch_dtype("int8")


def test_fmt_rounds_to_three_digits_and_hides_round_off():
    assert book.fmt(0) == "0" and book.fmt(0.0066012) == "0.0066" and book.fmt(1234.5) == "1.23e+03"
    assert book.fmt(3e-15) == "<1e-12" and book.fmt(-3e-15) == "<1e-12"


def test_check_prints_every_claim_and_raises_on_a_failing_one(capsys):
    book.check([Claim("a", 1.0, equals(1.0)), Claim("longer name", 0.5, at_most(1.0, "< 1"))])
    out = capsys.readouterr().out
    assert "a            1  (= 1: holds)" in out and "longer name  0.5  (< 1: holds)" in out
    with pytest.raises(AssertionError, match=r"claims that do not hold at these parameters: \['b'\]"):
        book.check([Claim("a", 1.0, equals(1.0)), Claim("b", 0.5, at_least(1.0))])


def test_check_says_why_a_claim_does_not_apply_and_does_not_raise(capsys):
    book.check([Claim("exact / theory", math.nan, within(1.0, 0.05), not_applicable="exact solver skipped")])
    assert "exact / theory  nan  (within 5% of 1: not applicable: exact solver skipped)" in capsys.readouterr().out


def test_check_prints_an_interval_as_its_two_ends(capsys):
    book.check([Claim("exponent", (0.48, 0.53), between(0.4, 0.6))])
    assert "exponent  [0.48, 0.53]  (in [0.4, 0.6]: holds)" in capsys.readouterr().out


def test_relation_picks_the_word_that_matches_the_measured_order():
    words = ("shorter", "about as long", "longer")
    assert book.relation(0.9, 1.0, words) == "shorter"
    assert book.relation(1.01, 1.0, words) == "about as long"
    assert book.relation(1.003, 1.058, words) == "shorter"  # DeepFool vs universal at d/k = 4 (issue 14)
    assert book.relation(1.2, 1.0, words) == "longer"
    with pytest.raises(ValueError, match="must be finite"):
        book.relation(math.nan, 1.0, words)
    with pytest.raises(ValueError, match="three phrases"):
        book.relation(1.0, 1.0, ("a", "b"))
