"""Instruction tokenizer shipped with the package: UTF-8 bytes, no vocabulary file, no downloads.

A byte-level tokenizer covers every language and every instruction an operator may type, and it
is identical at training, export and deployment time because it has no state. Text is
whitespace-normalised and lower-cased first, so "Pick up  the cube" and "pick up the cube" give
the same tokens.

Ids: 0 = padding, 1 = begin, 2 = end, 3 + b for byte ``b``.
"""

from __future__ import annotations

import numpy as np

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
BYTE_OFFSET = 3
VOCAB_SIZE = BYTE_OFFSET + 256
TOKENIZER_NAME = "bytes-v1"


def normalise_instruction(text: str) -> str:
    """Collapse whitespace and lower-case, so trivially different spellings give the same tokens."""
    return " ".join(str(text).split()).lower()


def tokenize(text: str, max_tokens: int) -> np.ndarray:
    """Encode ``text`` into ``max_tokens`` int64 ids: begin, bytes, end, then padding.

    Text that does not fit is truncated (the end token is kept, so the model always sees where
    the instruction stops).
    """
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2 (begin + end), got {max_tokens}")
    body = [BYTE_OFFSET + b for b in normalise_instruction(text).encode("utf-8")][: max_tokens - 2]
    ids = np.full(max_tokens, PAD_ID, dtype=np.int64)
    ids[: len(body) + 2] = [BOS_ID, *body, EOS_ID]
    return ids


def detokenize(ids: np.ndarray) -> str:
    """Inverse of :func:`tokenize` (of the normalised text), for logs and tests."""
    data = bytes(int(i) - BYTE_OFFSET for i in np.asarray(ids).ravel() if int(i) >= BYTE_OFFSET)
    return data.decode("utf-8", errors="replace")
