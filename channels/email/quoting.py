"""Quoted history and signatures out of a reply, so agents and the bot see what is new.

Conservative by design: it cuts at a reply header ("On … wrote:", Outlook's
From/Sent/To block, "-----Original Message-----"), drops a trailing block of
`>` lines, and a signature after `-- ` or a "Sent from my phone" line. Inline
answers between quotes are kept, forwarded mail is kept, and if cutting would
leave nothing the text is returned whole. The full original is always kept
beside the message (`metadata.original_text`).
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^(on\s.+\swrote|am\s.+\sschrieb.*|le\s.+\sa\s+écrit|el\s.+\sescribió|op\s.+\sschreef.*|den\s.+\sskrev.*"
    r"|il\s.+\sha\s+scritto|em\s.+\sescreveu|w\s+dniu\s.+\snapisał.*|.+@.+\s(wrote|schrieb|skrev|schreef)\s*)\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^(on|am|le|el|op|den|il|em|w dniu)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(wrote|schrieb|écrit|escribió|schreef|skrev|scritto|escreveu|napisał)[^:]{0,40}:\s*$",
                              re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|originalmeddelande|opprinnelig melding|messaggio originale|mensagem original)\s*-{2,}$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:)$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\*?(from|von|de|från|fra|van|da|od|lähettäjä)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\*?(sent|date|gesendet|datum|envoyé|skickat|sendt|verzonden|inviato|enviado|wysłane|"
    r"to|an|à|till|til|aan|a|para|do|"
    r"subject|betreff|objet|ämne|emne|onderwerp|oggetto|asunto|assunto|temat|cc)\s*:\*?\s*",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^(_{8,}|-{8,})$")
_SENT_FROM = re.compile(
    r"^(sent from my .{1,40}|sent from (mail|outlook) for .{1,40}|get outlook for .{1,30}|sent from yahoo mail.*"
    r"|von meinem .{1,30} gesendet|envoyé de mon .{1,30}|enviado desde mi .{1,30}|skickat från min .{1,30}"
    r"|verstuurd vanaf mijn .{1,30}|inviato da .{1,30}|sendt fra min .{1,30})\.?$",
    re.IGNORECASE,
)


def _outlook_header(lines: list[str], i: int) -> bool:
    """A `From:` line followed closely by at least two of Sent/To/Subject: Outlook's quoted header."""
    if not _HEADER_FROM.match(lines[i].strip()):
        return False
    window = [line.strip() for line in lines[i + 1:i + 7] if line.strip()]
    return sum(1 for line in window if _HEADER_OTHER.match(line)) >= 2


def _history_start(lines: list[str]) -> int | None:
    for i, raw in enumerate(lines):
        line = raw.strip()
        if _FORWARD.match(line):
            return None  # what follows is forwarded mail the customer wants us to read
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            return i
        if _ATTRIBUTION_START.match(line) and i + 1 < len(lines) and _ATTRIBUTION_END.search(lines[i + 1]):
            return i
        if _outlook_header(lines, i):
            return i - 1 if i > 0 and _SEPARATOR.match(lines[i - 1].strip()) else i
    return None


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return lines[:end]


def _drop_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i and line.rstrip() in ("--", "-- ") and len(lines) - i <= 20:
            return lines[:i]
    tail = [i for i, line in enumerate(lines) if line.strip()][-3:]
    for i in tail:
        if _SENT_FROM.match(lines[i].strip()):
            return lines[:i]
    return lines


def strip_reply(text: str) -> str:
    """The new part of a reply: history and signature cut; the whole text if nothing would be left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    kept = lines[:cut] if cut is not None else lines
    kept = _drop_signature(_drop_trailing_quote(kept))
    result = tidy("\n".join(kept))
    return result or tidy(text)


def tidy(text: str) -> str:
    """Trailing spaces off each line, at most one blank line in a row, no blank edges."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip()
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip("\n")
