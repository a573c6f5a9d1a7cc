"""Fixtures of the agent tests: the stable reference tokenizer of the golden files."""

from __future__ import annotations

import pytest

from ylm.tokenizer.reference import load_reference, reference_path


@pytest.fixture(scope="module")
def tok():
    if not reference_path("qwen3").exists():
        pytest.skip("Qwen3 reference tokenizer not fetched")
    return load_reference("qwen3", youtu_specials=True)
