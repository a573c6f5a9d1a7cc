"""The kit's small tokenizer: the Youtu-style BPE that later notebooks train models with.

``kit_tokenizer()`` trains an 8,192-entry tokenizer (Youtu pre-tokenization, 16 special slots) on every
committed ``train`` split once and caches the file; the cache key changes with anything that could change
the result, so a stale file is never reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

from ylm.data import DOMAINS, domain_path, load_texts
from ylm.paths import cache_dir
from ylm.tokenizer import pretokenize, special_tokens, train
from ylm.tokenizer.train import TokenizerConfig, load_tokenizer, save_tokenizer, train_tokenizer

KIT_CONFIG = TokenizerConfig(vocab_size=8192, pretokenizer="youtu", special_slots=16, min_frequency=2)


def _training_code() -> bytes:
    """Source of the modules whose output the kit cache stores: pre-tokenization, specials and training."""
    return b"".join(Path(m.__file__).read_bytes() for m in (pretokenize, special_tokens, train))


def kit_tokenizer_path(config: TokenizerConfig = KIT_CONFIG) -> Path:
    """Cache file of the kit tokenizer: keyed by the config, the ``tokenizers`` version, the training code
    and the training files, so changing any of them trains a fresh file."""
    digest = hashlib.sha256(json.dumps(config.__dict__, sort_keys=True).encode())
    digest.update(f"tokenizers=={tokenizers.__version__}".encode())
    digest.update(hashlib.sha256(_training_code()).digest())
    for domain in DOMAINS:
        digest.update(domain_path(domain, "train").read_bytes())
    return cache_dir() / "kit_tokenizer" / f"{config.pretokenizer}-{config.vocab_size}-{digest.hexdigest()[:12]}.json"


def kit_tokenizer(config: TokenizerConfig = KIT_CONFIG, refresh: bool = False) -> Tokenizer:
    """The kit's small Youtu-style tokenizer, trained on every committed train split, cached under
    ``ylm.paths.cache_dir()``.

    The cache key (``kit_tokenizer_path``) hashes the config, the ``tokenizers`` version, the training code
    and the training files, so editing any of them retrains it. Training is deterministic, so two machines
    with the same inputs build byte-identical files.
    """
    path = kit_tokenizer_path(config)
    if path.exists() and not refresh:
        return load_tokenizer(path)
    texts = [t for domain in DOMAINS for t in load_texts(domain, "train")]
    tok = train_tokenizer(texts, config)
    save_tokenizer(tok, path)
    return tok
