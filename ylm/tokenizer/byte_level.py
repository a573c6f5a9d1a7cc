"""GPT-2's byte-level alphabet: each of the 256 bytes shown as one printable character.

A byte-level BPE token such as ``'Ġthe'`` is a string over that alphabet; ``token_bytes`` maps it back to
the raw bytes it stands for (``b' the'``). The staged construction and the compression measures both need it.
"""

from __future__ import annotations


def _byte_decoder() -> dict[str, int]:
    # GPT-2's bytes_to_unicode, inverted: printable stand-in character -> raw byte.
    bs = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


BYTE_DECODER = _byte_decoder()


def token_bytes(token: str) -> bytes:
    """Raw bytes of a byte-level token string (e.g. 'Ġthe' -> b' the')."""
    return bytes(BYTE_DECODER[ch] for ch in token)
