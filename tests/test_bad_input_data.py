"""Bad corpus files: the error names the file and the line, not a bare JSONDecodeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from ylm import data


def _corpus(tmp_path: Path, lines: list[str]) -> Path:
    (tmp_path / "stem").mkdir()
    (tmp_path / "stem" / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("bad, why", [
    ('{"id": "b", "text": ', "not valid JSON"),
    ('["a list"]', "a document must be a JSON object with a string 'text'"),
    ('{"id": "b", "text": 3}', "a document must be a JSON object with a string 'text'"),
])
def test_a_bad_line_is_reported_with_file_and_line(tmp_path: Path, bad: str, why: str) -> None:
    root = _corpus(tmp_path, ['{"id": "a", "source": "s", "text": "ok"}', "", bad])
    with pytest.raises(ValueError, match=rf"stem/train\.jsonl:3: {why}"):
        data.load_texts("stem", "train", data_dir=root)
