"""Case files and ``{file:}`` texts are UTF-8: what a file in another encoding looks like.

A UTF-8 byte order mark (what Windows editors often write) is accepted and dropped.
Anything else that is not UTF-8 is refused with what it looks like instead: UTF-16 or
UTF-32 (told by a byte order mark, or without one by where the NUL bytes are: ASCII text
in UTF-16 has a NUL in every other byte), or the first byte that is not UTF-8 (a
Latin-1 ``é`` is the byte 0xe9).

Whether a ``*.yaml`` file is a case file at all (a top-level ``task:`` key) is read
from :func:`readable_text`, the file decoded as what it looks like, so a UTF-16 case
file is reported, while a UTF-16 ``config.yaml`` without ``task:`` stays ignored.

Pure module: no pytest, no YAML.
"""

from __future__ import annotations

import codecs

__all__ = ["NotUTF8", "decode_utf8", "readable_text"]

_BOMS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's (FF FE).
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
)
_SAMPLE = 4096
"""Bytes looked at to tell UTF-16 or UTF-32 without a byte order mark."""


class NotUTF8(ValueError):
    """Bytes that are not UTF-8 text; ``str()`` says what they look like instead
    (``it looks like UTF-16: byte order mark FF FE``), ``line`` where it shows."""

    def __init__(self, why: str, line: int = 1) -> None:
        super().__init__(why)
        self.line = line


def _bom(raw: bytes) -> tuple[bytes, str, str] | None:
    return next((found for found in _BOMS if raw.startswith(found[0])), None)


def _wide(raw: bytes) -> tuple[str, str, str] | None:
    """UTF-16 or UTF-32 without a byte order mark: (name, codec, why), or ``None``.

    Told by the NUL bytes: ASCII characters in UTF-16LE are a byte and a NUL, in
    UTF-32BE three NULs and a byte, and so on.  A slot (byte position modulo 4) counts
    as NUL when at least half of its bytes are.
    """
    sample = raw[:_SAMPLE]
    if b"\0" not in sample or len(sample) < 4:
        return None
    nul = [sample[i::4].count(0) * 2 >= len(sample[i::4]) for i in range(4)]
    patterns = {
        (False, True, True, True): ("UTF-32LE", "utf-32-le", "three bytes in four are 0"),
        (True, True, True, False): ("UTF-32BE", "utf-32-be", "three bytes in four are 0"),
        (False, True, False, True): ("UTF-16LE", "utf-16-le", "every other byte is 0"),
        (True, False, True, False): ("UTF-16BE", "utf-16-be", "every other byte is 0"),
    }
    return patterns.get((nul[0], nul[1], nul[2], nul[3]))


def decode_utf8(raw: bytes) -> str:
    """``raw`` as UTF-8 text, without a leading byte order mark.

    :raises NotUTF8: when it is not UTF-8, saying what it looks like instead.
    """
    bom = _bom(raw)
    if bom is not None:
        mark, name, _ = bom
        raise NotUTF8(f"it looks like {name}: byte order mark {mark.hex(' ').upper()}")
    wide = _wide(raw)
    if wide is not None:
        name, _, why = wide
        raise NotUTF8(f"it looks like {name} without a byte order mark: {why}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise NotUTF8(f"byte 0x{raw[exc.start]:02x} at offset {exc.start}", line) from None
    return text.removeprefix("\ufeff")


def readable_text(raw: bytes) -> str:
    """``raw`` decoded as what it looks like (UTF-8, UTF-16, UTF-32), bytes that do not
    decode replaced: enough to tell a case file by its ``task:`` key."""
    bom = _bom(raw)
    wide = _wide(raw)
    encoding = bom[2] if bom else wide[1] if wide else "utf-8"
    return raw.decode(encoding, errors="replace").removeprefix("\ufeff")
