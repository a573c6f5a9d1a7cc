"""The kit tokenizer: cached, chat-ready, and retrained whenever anything it depends on changes."""

import tokenizers

from ylm.tokenizer import kit
from ylm.tokenizer.kit import KIT_CONFIG, kit_tokenizer
from ylm.tokenizer.special_tokens import YOUTU_SPECIAL_TOKENS
from ylm.tokenizer.train import special_ids


def test_kit_tokenizer_is_cached_and_chat_ready():
    kit = kit_tokenizer()
    assert kit.get_vocab_size() == KIT_CONFIG.vocab_size
    assert special_ids(kit)["<|begin_of_text|>"] == KIT_CONFIG.bpe_size
    assert kit_tokenizer().to_str() == kit.to_str()
    # No ordinary BPE entry spells a special token, so plain text can only ever reach them piece by piece.
    bpe_entries = {t for t, i in kit.get_vocab(with_added_tokens=False).items() if i < KIT_CONFIG.bpe_size}
    assert not bpe_entries & set(YOUTU_SPECIAL_TOKENS)
    chat = "<|User|>What is 2+2?<|Assistant|><think>\n\n</think>\n\n4<|end_of_text|>"
    enc = kit.encode(chat)
    start = chat.index("<think>")
    k = enc.ids.index(special_ids(kit)["<think>"])
    assert enc.offsets[k] == (start, start + len("<think>"))
    assert kit.decode(enc.ids, skip_special_tokens=False) == chat


def test_kit_cache_key_tracks_tokenizers_version_and_training_code(monkeypatch):
    path = kit.kit_tokenizer_path()
    assert kit.kit_tokenizer_path() == path  # stable for the same inputs
    monkeypatch.setattr(tokenizers, "__version__", tokenizers.__version__ + ".other")
    assert kit.kit_tokenizer_path() != path
    monkeypatch.undo()
    source = kit._training_code()
    # the key hashes the real training code: pre-tokenization, special tokens and training
    assert all(s in source for s in (b"def split_pattern", b"YOUTU_SPECIAL_TOKENS", b"def train_tokenizer"))
    monkeypatch.setattr(kit, "_training_code", lambda: source + b"\n# edited\n")
    assert kit.kit_tokenizer_path() != path


def test_toy_model_preset_uses_the_kit_tokenizers_ids() -> None:
    from ylm.model.config import toy_mla

    kit, config = kit_tokenizer(), toy_mla()
    assert config.vocab_size == kit.get_vocab_size()
    assert (config.bos_token_id, config.eos_token_id) == (special_ids(kit)["<|begin_of_text|>"],
                                                          special_ids(kit)["<|end_of_text|>"])
