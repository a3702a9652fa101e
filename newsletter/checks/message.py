"""The message as it goes on the wire: headers, MIME structure, size, line length, and an
offline SpamAssassin score (email-standards.md §0, §1.2, §1.6, §3.1, §3.8-3.10, §4.1)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from ..errors import NewsletterError
from ..files import atomic_write, real_folder
from ..models import Finding
from .context import Context, finding

SIZE_ERROR = 100 * 1024  # Gmail clips at about 102 KB; leave room for the provider's link rewriting
SIZE_WARNING = 80 * 1024
MAX_LINE = 998  # RFC 5322 §2.1.1, without CRLF
SINGLE_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")
ONE_CLICK = "List-Unsubscribe=One-Click"
SPAM_ERROR = 5.0
SPAM_WARNING = 2.0
SPAM_TIMEOUT = 60  # seconds; a cold start of spamassassin takes 1-3 s
SPAM_RULE_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]+)\b", re.M)
SPAM_SCORE_RE = re.compile(r"score=(-?\d+(?:\.\d+)?)")
SPAM_CACHE = Path(".cache") / "spamassassin"  # under the build folder: one report per content
SPAM_CACHE_KEEP = 64  # reports kept (newest first); one issue's drafts are a handful
SPAM_RULE_DIRS = ("/etc/spamassassin", "/etc/mail/spamassassin", "/var/lib/spamassassin")  # local.cf, sa-update
# Headers that differ on every build of the same content (a new Date, a random Message-ID):
# left out of the cache key, so a send after a check finds the check's score.
MIME_BOUNDARY = re.compile(rb'boundary="([^"]{8,})"')
SIGNED_LINK = re.compile(rb"/([up])/[0-9a-z]+\.[A-Za-z0-9_-]+")  # /u/<id base36>.<mac>, /p/... (build/personalize.sign_token)
VOLATILE_HEADERS = re.compile(rb"^(?:Date|Message-ID):[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)


def check_message(ctx: Context) -> list[Finding]:
    return [*size(ctx), *headers(ctx), *structure(ctx), *line_length(ctx)]


def size(ctx: Context) -> list[Finding]:
    n = len(ctx.html.encode("utf-8"))
    if n > SIZE_ERROR:
        return [finding("html.size", "error", "email.html", f"HTML is {n / 1024:.1f} KB; Gmail clips at about 102 KB and hides the footer (unsubscribe, address): shorten the issue below {SIZE_ERROR // 1024} KB")]
    if n > SIZE_WARNING:
        return [finding("html.size", "warning", "email.html", f"HTML is {n / 1024:.1f} KB, close to Gmail's ~102 KB clipping point; keep it under {SIZE_WARNING // 1024} KB")]
    return []


def raw_headers(eml: bytes) -> list[tuple[str, bytes]]:
    """(name, unfolded raw value) of every top-level header, in order."""
    head = re.split(rb"\r?\n\r?\n", eml, maxsplit=1)[0]
    out: list[tuple[str, bytes]] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b" " + line.strip())
        elif b":" in line:
            name, _, value = line.partition(b":")
            out.append((name.decode("ascii", "replace").strip(), value.strip()))
    return out


def headers(ctx: Context) -> list[Finding]:
    found = raw_headers(ctx.eml)
    counts = Counter(name.lower() for name, _ in found)
    out = []
    for name in (*SINGLE_HEADERS, "MIME-Version", "List-Unsubscribe", "List-Unsubscribe-Post"):
        n = counts[name.lower()]
        if n != 1:
            out.append(finding("message.header-count", "error", "message", f"{name} appears {n} times; it must appear exactly once"))
    values = {name.lower(): value.decode("ascii", "replace") for name, value in found}
    if counts["from"] == 1 and len(getaddresses([values["from"]])) != 1:
        out.append(finding("message.from", "error", "message", "From must carry exactly one address"))
    if counts["message-id"] == 1 and not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", values["message-id"]):
        out.append(finding("message.message-id", "error", "message", f"Message-ID {values['message-id']!r} is not of the form <left@right>"))
    if counts["date"] == 1 and not _date_ok(values["date"]):
        out.append(finding("message.date", "error", "message", f"Date {values['date']!r} does not parse as an RFC 5322 date"))
    if counts["list-unsubscribe"] == 1:
        out += _list_unsubscribe(values["list-unsubscribe"])
    if counts["list-unsubscribe-post"] == 1 and values["list-unsubscribe-post"].strip() != ONE_CLICK:
        out.append(finding("message.list-unsubscribe-post", "error", "message", f"List-Unsubscribe-Post must be exactly '{ONE_CLICK}' (RFC 8058)"))
    non_ascii = sorted({name for name, value in found if not value.isascii()})
    if non_ascii:
        out.append(finding("message.header-ascii", "error", "message", f"header(s) {', '.join(non_ascii)} contain raw non-ASCII bytes; they must be RFC 2047 encoded"))
    return out


def _date_ok(value: str) -> bool:
    try:
        parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError):
        return False


def _list_unsubscribe(value: str) -> list[Finding]:
    uris = re.findall(r"<([^>]*)>", value)
    leftover = re.sub(r"<[^>]*>", "", value).replace(",", "").strip()
    https = [u for u in uris if u.lower().startswith("https://")]
    problems = []
    if leftover:
        problems.append("every URI must be in <angle brackets>, separated by commas")
    if len(https) != 1:
        problems.append(f"it must hold exactly one https:// URI (found {len(https)})")
    if any(u.lower().startswith("http://") for u in uris):
        problems.append("http:// URIs are not allowed")
    return [finding("message.list-unsubscribe", "error", "message", f"List-Unsubscribe: {p} (RFC 8058)") for p in problems]


def structure(ctx: Context) -> list[Finding]:
    mime = ctx.mime
    out = []
    if mime.get_content_type() != "multipart/alternative":
        return [finding("message.structure", "error", "message", f"the message is {mime.get_content_type()}; it must be multipart/alternative with a text/plain and a text/html part")]
    types = [part.get_content_type() for part in mime.iter_parts()]  # type: ignore[attr-defined]
    if "text/plain" not in types or "text/html" not in types or types.index("text/plain") > types.index("text/html"):
        out.append(finding("message.structure", "error", "message", f"parts are {', '.join(types) or 'none'}: text/plain must come first and text/html after it"))
    for part in mime.iter_parts():  # type: ignore[attr-defined]
        if part.get_content_maintype() == "text" and (part.get_content_charset() or "").lower() != "utf-8":
            out.append(finding("message.charset", "error", "message", f"{part.get_content_type()} part declares charset {part.get_content_charset()!r}; it must be utf-8"))
    return out


def line_length(ctx: Context) -> list[Finding]:
    longest = max((len(line) for line in re.split(rb"\r?\n", ctx.eml)), default=0)
    if longest > MAX_LINE:
        return [finding("message.line-length", "error", "message", f"a line of the message is {longest} octets; RFC 5322 allows {MAX_LINE}: encode the body as quoted-printable")]
    return []


# --- SpamAssassin -------------------------------------------------------------------------------


def spamassassin_available() -> bool:
    return shutil.which("spamassassin") is not None


def check_spam(eml: bytes, timeout: float = SPAM_TIMEOUT, *, cache_root: Path | None = None) -> list[Finding]:
    """Score the message with a local ``spamassassin -t -L`` (no network tests, no Bayes).

    ``cache_root`` (the build folder): SpamAssassin's report is kept under ``.cache/spamassassin``
    there, named by the hash of what decides the score (the message without its Date and
    Message-ID, the command, the spamassassin program and its rule folders' times), so the same
    content is scored once, by ``check`` or the first ``send``/``--dry-run``, not on every run
    (each run is a second or more of CPU and ~70 MB)."""
    exe = shutil.which("spamassassin")
    if exe is None:
        return []
    command = [exe, "-t", "-L", "-x", "--cf=use_bayes 0"]
    cached = _spam_cache_file(cache_root, eml, command) if cache_root is not None else None
    report = _read_cached(cached)
    if report is None:
        try:
            run = subprocess.run(command, input=eml, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return [finding("spam.unavailable", "warning", "message", f"spamassassin did not finish within {timeout:.0f} s; the spam score was not checked")]
        except OSError as err:
            return [finding("spam.unavailable", "warning", "message", f"spamassassin could not run: {err.strerror}")]
        report = run.stdout.decode("utf-8", "replace")
        if cached is not None and SPAM_SCORE_RE.search(report):  # a failed run is tried again next time
            _keep_cached(cached, report)
    return spam_findings(report)


def _spam_cache_file(root: Path, eml: bytes, command: list[str]) -> Path:
    digest = hashlib.sha256(_stable_form(eml))
    for part in (*command, *_program_stamps(command[0])):
        digest.update(b"\0" + str(part).encode("utf-8", "surrogateescape"))
    return root / SPAM_CACHE / f"{digest.hexdigest()}.txt"


def _stable_form(eml: bytes) -> bytes:
    """The message without what changes from one build of the same content to the next: the
    Date and Message-ID headers, the MIME boundary (random) and the signed links' tokens (a new
    nonce each time) replaced by fixed ones; quoted-printable's soft line breaks are taken out
    first, so a token split over two lines is found whole."""
    text = VOLATILE_HEADERS.sub(b"", eml.replace(b"\r\n", b"\n"))
    boundary = MIME_BOUNDARY.search(text)
    if boundary:
        text = text.replace(boundary.group(1), b"=boundary=")
    return SIGNED_LINK.sub(rb"/\1/token", text.replace(b"=\n", b""))


def _program_stamps(exe: str) -> list[str]:
    """What changes when SpamAssassin or its rules do: the program's file, and the modification
    times of its configuration and sa-update folders and their subfolders."""
    stamps = []
    for path in (exe, *SPAM_RULE_DIRS):
        try:
            info = os.stat(path)
            stamps.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
            if os.path.isdir(path):
                stamps += sorted(f"{e.path}:{e.stat().st_mtime_ns}" for e in os.scandir(path) if e.is_dir())
        except OSError:
            stamps.append(f"{path}:-")
    return stamps


def _read_cached(path: Path | None) -> str | None:
    if path is None or path.is_symlink():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text if SPAM_SCORE_RE.search(text) else None


def _keep_cached(path: Path, report: str) -> None:
    """Best effort: a cache that cannot be written only means scoring again next time."""
    try:
        real_folder(path.parent.parent, "the build folder's cache")
        folder = real_folder(path.parent, "the build folder's cache")
        with atomic_write(path, "w", encoding="utf-8") as out:
            out.write(report)
        kept = sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[SPAM_CACHE_KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, NewsletterError):
        pass


def spam_findings(report: str) -> list[Finding]:
    """Turn the output of ``spamassassin -t`` into at most one finding."""
    score_match = SPAM_SCORE_RE.search(report)
    if not score_match:
        return [finding("spam.unavailable", "warning", "message", "spamassassin gave no score (is it configured?); the spam score was not checked")]
    score = float(score_match.group(1))
    details = report.rpartition("Content analysis details:")[2]
    rules = [(float(points), name) for points, name in SPAM_RULE_RE.findall(details)]
    hits = ", ".join(f"{name} {points:g}" for points, name in sorted(rules, reverse=True) if points != 0) or "none with points"
    if score >= SPAM_ERROR:
        return [finding("spam.score", "error", "message", f"SpamAssassin scores {score:g} (spam at {SPAM_ERROR:g}); rules: {hits}")]
    if score >= SPAM_WARNING:
        return [finding("spam.score", "warning", "message", f"SpamAssassin scores {score:g} (aim below {SPAM_WARNING:g}); rules: {hits}")]
    return []
