"""Specification of the instruction tokenizer shipped with the package."""

import numpy as np
import pytest

from egoscale_ros.policy import tokenizer as tok


def test_layout_is_begin_bytes_end_then_padding():
    ids = tok.tokenize("ab", 6)
    assert ids.dtype == np.int64
    assert ids.tolist() == [tok.BOS_ID, tok.BYTE_OFFSET + ord("a"), tok.BYTE_OFFSET + ord("b"), tok.EOS_ID, 0, 0]


def test_whitespace_and_case_do_not_change_tokens():
    assert np.array_equal(tok.tokenize("  Pick UP\tthe  cube ", 32), tok.tokenize("pick up the cube", 32))


def test_long_text_is_truncated_but_keeps_the_end_token():
    ids = tok.tokenize("x" * 100, 10)
    assert len(ids) == 10 and ids[-1] == tok.EOS_ID and ids[0] == tok.BOS_ID


def test_any_unicode_round_trips_and_ids_stay_in_the_vocabulary():
    text = "greif den würfel 立方体"
    ids = tok.tokenize(text, 64)
    assert ids.max() < tok.VOCAB_SIZE and ids.min() >= 0
    assert tok.detokenize(ids) == text


def test_too_short_budget_is_refused():
    with pytest.raises(ValueError, match="max_tokens"):
        tok.tokenize("a", 1)
