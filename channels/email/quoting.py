"""Quoted history and signatures out of a reply, so agents and the bot see what is new.

Conservative by design. The history starts at a reply header: an attribution ("On … wrote:"
in several languages, also wrapped over up to three lines or quoted by Apple Mail), Outlook's
From/Sent/To block, "-----Original Message-----". What is above it is kept (top-posting);
answers written below the quote (bottom-posting) or between quoted questions (interleaving)
are kept too, the latter with the question they answer. Trailing `>` blocks and a signature
after `-- ` or a "Sent from my phone" line go. Forwarded mail is kept, and if cutting would
leave nothing the text is returned whole. The full original is always kept beside the message
(`metadata.original_text`). tests/email/replies/ is the corpus of client formats it must read.
No PyPI library reads bottom-posted and interleaved replies (measured in docs/channels/email.md).
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


def _unquoted(line: str) -> str:
    """The line without its quote markers (`> > text` -> `text`)."""
    return re.sub(r"^(\s*>)+\s?", "", line).strip()


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_end(lines: list[str], i: int) -> int | None:
    """The last line of a reply attribution starting at line i, or None.

    Clients wrap a long attribution ("On <date>, <name> <address>" … "wrote:") over two or
    three lines; the joined lines must read as one attribution that names a date or an address.
    Apple Mail quotes its attribution (`> On … wrote:`), so quote markers are ignored.
    """
    first = _unquoted(lines[i])
    if _ATTRIBUTION.match(first):
        return i
    if not _ATTRIBUTION_START.match(first):
        return None
    joined = first
    for j in range(i + 1, min(i + 3, len(lines))):
        part = _unquoted(lines[j])
        if not part:
            return None
        joined = f"{joined} {part}"
        if len(joined) > 300:
            return None
        if _ATTRIBUTION_END.search(part) or _ATTRIBUTION.match(joined):
            return j if re.search(r"\d|@", joined) else None
    return None


def _history_start(lines: list[str]) -> tuple[int, int] | None:
    """(first, last) line of the header that starts the quoted history, or None."""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if _FORWARD.match(line):
            return None  # what follows is forwarded mail the customer wants us to read
        if _ORIGINAL.match(line):
            return i, i
        end = _attribution_end(lines, i)
        if end is not None:
            return i, end
        if _header_block(lines, i):
            return (i - 1 if i > 0 and _SEPARATOR.match(lines[i - 1].strip()) else i), i
    return None


def _header_block(lines: list[str], i: int) -> bool:
    """Outlook's (or a webmail's) quoted header: From/Sent/To/Subject lines, From among them."""
    if _outlook_header(lines, i):
        return True
    # GMX, Web.de and some Outlook versions start the block with the date line.
    if not _HEADER_OTHER.match(lines[i].strip()) or _HEADER_FROM.match(lines[i].strip()):
        return False
    window = [line.strip() for line in lines[i:i + 5]]
    return (any(_HEADER_FROM.match(line) for line in window)
            and sum(1 for line in window if _HEADER_OTHER.match(line) or _HEADER_FROM.match(line)) >= 4)


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or _is_quoted(lines[end - 1])):
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


def _segments(lines: list[str]) -> list[tuple[bool, list[str]]]:
    """Runs of quoted and unquoted lines, as (quoted, lines); blank lines join the run they are in."""
    runs: list[tuple[bool, list[str]]] = []
    for line in lines:
        quoted = _is_quoted(line)
        if not line.strip() and runs:
            runs[-1][1].append(line)
        elif runs and runs[-1][0] == quoted:
            runs[-1][1].append(line)
        elif line.strip():
            runs.append((quoted, [line]))
    return runs


def _last_paragraph(quote: list[str]) -> list[str]:
    """The quoted paragraph an inline answer replies to: the block's last one, at most four lines."""
    body = [line for line in quote if line.strip()]
    start = 0
    for k, line in enumerate(body):
        if not _unquoted(line):
            start = k + 1
    return body[start:][-4:]


def _answers_below(history: list[str]) -> list[str] | None:
    """The customer's words when they answered below or between the quoted lines, else None.

    Bottom-posted: one quoted block, then the answer (the quote is history: dropped).
    Interleaved: quoted questions with an answer under each (each question's last paragraph
    is kept as context). A quote with nothing written after it means a top-posted reply.
    """
    runs = _segments(_drop_signature(history))
    while runs and runs[-1][0]:
        runs.pop()  # nothing written after the last quote
    if not any(quoted for quoted, _ in runs) or not any(not quoted for quoted, _ in runs):
        return None
    answered = [k for k, (quoted, _) in enumerate(runs) if quoted and k + 1 < len(runs)]
    out: list[str] = []
    for k, (quoted, block) in enumerate(runs):
        if quoted and (len(answered) == 1 and k == 0):
            continue  # bottom-posted: the whole quote is history
        shown = _last_paragraph(block) if quoted else block
        out += [*shown, ""]
    return out


def strip_reply(text: str) -> str:
    """The new part of a reply: history and signature cut; the whole text if nothing would be left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found = _history_start(lines)
    if found is None:
        kept = _drop_signature(_drop_trailing_quote(lines))
    else:
        start, end = found
        below = _answers_below(lines[end + 1:])
        if below is not None:
            kept = [*_drop_signature(lines[:start]), "", *below]
        else:
            kept = _drop_signature(_drop_trailing_quote(lines[:start]))
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
