"""The parser on its own: examples of what real clients send, and properties over arbitrary input (hypothesis)."""

from __future__ import annotations

import base64
import os
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.charsets import decode_bytes, decode_header
from channels.email.htmltext import html_to_text
from channels.email.loops import find_bounce, noise_reason
from channels.email.parse import ParsedEmail, ParseError, ParseLimits, parse_message
from channels.email.quoting import strip_reply
from channels.email.threading import hints_for, thread_key

FUZZ = settings(max_examples=int(os.environ.get("EMAIL_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(raw: bytes) -> ParsedEmail | None:
    try:
        parsed = parse_message(raw, ParseLimits(max_attachment_bytes=1024, max_parts=50))
    except ParseError as exc:
        assert exc.reason  # a refusal always says why
        return None
    assert isinstance(parsed.text, str) and isinstance(parsed.full_text, str)
    assert isinstance(parsed.subject, str) and "\n" not in parsed.subject
    assert parsed.message_id and len(parsed.message_id) <= 250 and " " not in parsed.message_id
    assert all(a.data is None or len(a.data) <= 1024 for a in parsed.attachments)
    # What the receiver does next with a parsed mail must not fail either.
    bounce = find_bounce(parsed)
    assert bounce is None or bounce.original_id
    noise_reason(parsed, lambda address: address == "support@example.com")
    hints = hints_for(parsed, None, "example.com")
    assert thread_key(parsed).startswith("email:") and not hints.use_thread_key
    return parsed


# -- examples ---------------------------------------------------------------------------


def test_charsets_as_clients_really_label_them() -> None:
    assert decode_bytes("€5 \u2013 \u201cok\u201d".encode("cp1252"), "iso-8859-1") == "€5 \u2013 \u201cok\u201d"
    assert decode_bytes("配送".encode("cp932"), "shift_jis") == "配送"
    assert decode_bytes("①".encode("cp932"), "Shift_JIS") == "①"  # a CP932 extension
    assert decode_bytes("grüße".encode(), "x-unknown") == "grüße"
    assert decode_bytes("grüße".encode("latin-1"), None) == "grüße"
    assert decode_bytes(b"abc", "rot13") == "abc"  # not a charset: ignored
    assert decode_header("=?ISO-8859-1?Q?Andr=E9?= Pirard") == "André Pirard"
    assert decode_header("=?utf-8?b?" + base64.b64encode("Ünïcödé".encode()).decode() + "?=") == "Ünïcödé"
    assert decode_header("=?utf-8?q?a?=\r\n =?utf-8?q?b?=") == "ab"
    assert decode_header("=?no-such-charset?q?x?=") == "x"


def test_multipart_alternative_prefers_plain_and_keeps_html() -> None:
    mail = EmailMessage()
    mail["From"] = "A <a@example.org>"
    mail["Subject"] = "hello"
    mail.set_content("plain version\n")
    mail.add_alternative("<p>html <b>version</b></p>", subtype="html")
    parsed = parse_message(mail.as_bytes())
    assert parsed.text == "plain version"
    assert parsed.html is not None and "<b>version</b>" in parsed.html
    assert parsed.attachments == ()


def test_html_is_made_readable() -> None:
    text = html_to_text("<html><head><style>p{}</style><title>t</title></head><body><p>Hello&nbsp;<b>you</b></p>"
                        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>"
                        '<p><a href="https://example.org/x">the link</a></p><pre>a\n  b</pre></body></html>')
    assert text == "Hello you\n\none\ntwo\n\nthe link (https://example.org/x)\n\na\n  b"


def test_quotes_and_signatures_are_stripped_conservatively() -> None:
    gmail = "Sounds good.\n\nOn Tue, Mar 5, 2024 at 9:00 AM Support <support@example.com>\nwrote:\n\n> Shall we?\n"
    assert strip_reply(gmail) == "Sounds good."
    outlook = "Ok\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nTo: me\nSubject: x\n\nold"
    assert strip_reply(outlook) == "Ok"
    french = "Merci !\n\nLe lun. 4 mars 2024 à 10:00, Support <support@example.com> a écrit :\n> Bonjour"
    assert strip_reply(french) == "Merci !"
    inline = "> Which size?\n42\n> Which colour?\nblue\n\n> thanks"
    assert strip_reply(inline) == "> Which size?\n42\n> Which colour?\nblue"
    mobile = "Yes\n\nSent from my iPhone"
    assert strip_reply(mobile) == "Yes"
    forwarded = "See below\n\n---------- Forwarded message ---------\nFrom: Shop <s@example.com>\nDate: Mon\n" \
                "Subject: x\nTo: me\n\nYour order"
    assert strip_reply(forwarded) == forwarded  # forwarded mail is content, not history
    only_quote = "> everything is quoted\n> here"
    assert strip_reply(only_quote) == only_quote  # never strip to nothing


def test_attachment_names_are_decoded_and_made_safe() -> None:
    raw = (b"From: a@example.org\nSubject: f\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
           b"--B\nContent-Type: text/plain\n\nsee file\n--B\nContent-Type: application/octet-stream\n"
           b"Content-Disposition: attachment; filename=\"..\\\\..\\\\windows\\\\evil<>.exe\"\n\nMZ\n"
           b"--B\nContent-Type: image/png\nContent-Disposition: attachment; filename*=UTF-8''%E2%9C%93.png\n\nx\n"
           b"--B\nContent-Type: application/pdf\nContent-Disposition: attachment\n\n%PDF\n--B--\n")
    names = [a.filename for a in parse_message(raw).attachments]
    assert names == ["evil.exe", "✓.png", "attachment-3.pdf"]


def test_not_a_message_is_a_clear_parse_error() -> None:
    for raw, reason in ((b"", "empty"), (b"   \r\n", "empty"), (b"just some text\nwithout headers\n", "no header")):
        try:
            parse_message(raw)
        except ParseError as exc:
            assert reason in exc.reason
        else:
            raise AssertionError(f"{raw!r} parsed")


def test_deeply_nested_multiparts_are_cut_off_not_crashing() -> None:
    depth = 60
    head = b"From: a@example.org\nSubject: deep\nMIME-Version: 1.0\n"
    body = b""
    for i in range(depth):
        body += f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n".encode()
    body += b"Content-Type: text/plain\n\ninnermost\n"
    for i in reversed(range(depth)):
        body += f"--b{i}--\n".encode()
    parsed = _parse_or_refuse(head + body)
    assert parsed is None or "too many parts" in parsed.defects


# -- properties -------------------------------------------------------------------------

_HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References",
                                 "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Date",
                                 "Reply-To", "Auto-Submitted", "Precedence", "X-Custom", "MIME-Version"])
_TRICKY = st.sampled_from(["=?", "?=", "=?utf-8?q?", "=?iso-8859-1?b?", "?B?", "<", ">", "\"", ";", ",", "@",
                           "multipart/mixed; boundary=", "charset=", "filename*=", "''", "%E2", "\t", " ",
                           "text/html", "base64", "quoted-printable", "==", "=C3=", "\udcff"])
_VALUE = st.lists(st.one_of(_TRICKY, st.text(max_size=12)), max_size=12).map("".join)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


@FUZZ
@given(st.sampled_from([b"", b"From: a@example.org\r\n", b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n",
                        b"From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"]),
       st.binary(max_size=4000))
def test_any_bytes_parse_or_are_refused_with_a_reason(prefix: bytes, raw: bytes) -> None:
    _parse_or_refuse(prefix + raw)


@FUZZ
@given(st.lists(st.tuples(_HEADER_NAMES, _VALUE), min_size=1, max_size=12), st.binary(max_size=800))
def test_any_headers_parse_or_are_refused_with_a_reason(headers: list[tuple[str, str]], body: bytes) -> None:
    head = b"".join(_encode(f"{name}: {value}".replace("\n", " ").replace("\r", " ")) + b"\r\n"
                    for name, value in headers)
    _parse_or_refuse(head + b"\r\n" + body)


_PART = st.recursive(
    st.tuples(st.sampled_from(["text/plain", "text/html", "image/png", "application/pdf", "message/rfc822",
                               "text/plain; format=flowed", "multipart/alternative", "message/delivery-status",
                               "text/rfc822-headers", "multipart/report; report-type=delivery-status"]),
              st.sampled_from(["", "base64", "quoted-printable", "8bit", "x-uuencode"]),
              st.sampled_from(["utf-8", "iso-8859-1", "shift_jis", "bogus", ""]),
              st.binary(max_size=300)),
    lambda children: st.lists(children, min_size=0, max_size=4),
    max_leaves=12,
)


def _render(part: object, depth: int = 0) -> bytes:
    if isinstance(part, list):
        boundary = f"bnd{depth}x".encode()
        kind = b"report; report-type=delivery-status" if depth % 2 else b"mixed"
        out = b"Content-Type: multipart/" + kind + b"; boundary=" + boundary + b"\r\n\r\npreamble\r\n"
        for child in part:
            out += b"--" + boundary + b"\r\n" + _render(child, depth + 1) + b"\r\n"
        return out + b"--" + boundary + b"--\r\n"
    assert isinstance(part, tuple)
    ctype, encoding, charset, payload = part
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "") + "\r\n"
    if encoding:
        head += f"Content-Transfer-Encoding: {encoding}\r\n"
    if encoding == "base64":
        payload = base64.encodebytes(payload)
    return head.encode() + b"\r\n" + payload


@FUZZ
@given(_PART)
def test_any_mime_tree_parses_to_text(tree: object) -> None:
    for sender in (b"Fuzz <fuzz@example.org>", b"MAILER-DAEMON@example.org"):
        raw = b"From: " + sender + b"\r\nSubject: tree\r\nMIME-Version: 1.0\r\n" + _render(tree)
        parsed = _parse_or_refuse(raw)
        assert parsed is not None and parsed.from_address in ("fuzz@example.org", "mailer-daemon@example.org")


_BODY_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200).filter(
    lambda t: t.strip() != "")


@FUZZ
@given(_BODY_TEXT, st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
       st.sampled_from(["utf-8", "iso-8859-1", "shift_jis", "koi8-r", "windows-1252"]))
def test_well_formed_mail_round_trips(body: str, subject: str, charset: str) -> None:
    try:
        encoded = body.encode(charset)
    except UnicodeEncodeError:
        charset, encoded = "utf-8", b""
    if charset == "shift_jis" and encoded.decode("cp932") != body:
        # Mail labelled Shift_JIS is read as Microsoft's CP932, as Japanese clients do; the
        # handful of characters the two map differently (¬ becomes U+FFE2, for one) do not round-trip.
        charset = "utf-8"
    mail = EmailMessage()
    mail["From"] = "Round Trip <trip@example.org>"
    mail["Subject"] = subject
    mail.set_content(body, charset=charset)
    parsed = parse_message(mail.as_bytes())
    assert parsed.subject == " ".join(subject.split())
    expected = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    assert " ".join(parsed.full_text.split()) == " ".join(expected.split())
    assert parsed.text.strip() != ""


@FUZZ
@given(st.text(max_size=2000))
def test_html_and_quote_stripping_never_fail(markup: str) -> None:
    text = html_to_text(markup)
    assert isinstance(text, str)
    stripped = strip_reply(text)
    assert (stripped.strip() != "") == (text.strip() != "")


@FUZZ
@given(_VALUE)
def test_headers_always_decode(value: str) -> None:
    decoded = decode_header(value)
    assert isinstance(decoded, str) and "\n" not in decoded and "\r" not in decoded
