"""Bytes and headers to text, the way mail clients really label them.

Mail in the wild lies about its charset: Outlook labels Windows-1252 as
ISO-8859-1, Japanese mail says Shift_JIS but uses Microsoft's CP932 extensions,
some software writes `unknown-8bit` or nothing at all. Every function here
returns text (with U+FFFD for what cannot be decoded) and never raises.
"""

from __future__ import annotations

import codecs
import email.errors
import email.header

#: Labels mapped to the superset codec real senders use (as browsers and mail clients do).
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_ext",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_UNKNOWN = {"", "unknown", "unknown-8bit", "x-unknown", "x-user-defined", "default", "none", "charset"}


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when it is unknown or not a text codec."""
    name = (label or "").strip().strip('"').lower()
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # rot13, zlib, base64...: named in a header, but not a charset
    return _ALIASES.get(info.name, info.name)


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Decode a body part: the declared charset, else UTF-8, else Windows-1252; never raises."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None:
        try:
            return data.decode(codec, errors="replace")
        except (LookupError, ValueError):
            pass
    return data.decode("cp1252", errors="replace")


def undo_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (read by the parser as surrogate escapes) decoded as UTF-8 or 1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", errors="surrogateescape")
    return decode_bytes(raw)


def raw_header(value: object) -> str:
    """A header value as written, with raw 8-bit bytes decoded (UTF-8, else Windows-1252).

    The lenient parser hands such headers over as surrogate escapes, or as a `Header`
    in the `unknown-8bit` charset whose `str()` would turn every byte into U+FFFD.
    """
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        try:
            chunks = email.header.decode_header(value)
        except (LookupError, UnicodeError, ValueError):
            return str(value)
        return "".join(decode_bytes(chunk, None if charset in (None, "unknown-8bit") else charset)
                       if isinstance(chunk, bytes) else chunk for chunk, charset in chunks)
    return undo_surrogates(str(value))


def decode_header(value: object) -> str:
    """An RFC 2047 header (`=?iso-8859-1?q?Gr=FC=DFe?=`) as text; malformed pieces are kept as written."""
    if value is None:
        return ""
    text = raw_header(value)
    if "=?" not in text:
        return _unfold(text)
    try:
        parts = email.header.decode_header(text)
    except (email.errors.HeaderParseError, ValueError, LookupError, UnicodeError, AssertionError, IndexError):
        return _unfold(text)
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    decoded = "".join(out)
    if "\ufffd" in decoded and "\ufffd" not in text:
        return _unfold(text)  # a broken encoded word: what was written reads better than replacement marks
    return _unfold(decoded)


def _unfold(text: str) -> str:
    """Header folding and control characters out; the result is one clean line."""
    cleaned = "".join(" " if ch in "\r\n\t" else ch for ch in text if ch >= " " or ch in "\r\n\t")
    return " ".join(cleaned.split())
