"""``check --online``: fetch every link and image, resolve every DOI; broken ones are warnings.
Each DOI of a reference is also looked up in Crossref and compared with the reference's text
(citations.py).

HEAD first, GET when HEAD fails (many servers answer HEAD with 403/405). DOIs are resolved at
the resolver without following the redirect: a 3xx means the DOI exists, and publishers that
refuse scripts (403) do not count against it. Each read has ``TIMEOUT``; each URL, all its
requests together, has ``DEADLINE`` (a ``watchdog.Watch`` shuts the socket of a server answering
a byte at a time). Working URLs are cached for 24 hours in
``<output>/.linkcache.json``; broken ones are always fetched again, so a fix shows at once.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

from ..files import atomic_write
from ..models import Finding
from ..watchdog import Watch
from .citations import check_citations
from .content import DOI_RE, DOI_TEXT_RE, DOI_URL_RE
from .context import Context, finding
from .watched_http import watched_opener

CACHE_NAME = ".linkcache.json"
CACHE_TTL = 24 * 3600
TIMEOUT = 10.0
DEADLINE = 30.0  # seconds for one URL in all: HEAD, the GET after it, redirects
WORKERS = 8
USER_AGENT = "newsletter-linkcheck/0.1 (preflight check before sending)"


@dataclass(frozen=True)
class Target:
    url: str  # what is fetched
    shown: str  # what the finding names (the link, or the DOI)
    kind: str  # "link" or "doi"
    location: str


def check_online(ctx: Context, *, timeout: float = TIMEOUT, now: Callable[[], float] = time.time) -> list[Finding]:
    targets = collect_targets(ctx)
    cache_path = ctx.settings.output_dir / CACHE_NAME
    cache = _load_cache(cache_path, now())
    todo = [t for t in targets if t.url not in cache]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        citations = pool.submit(check_citations, ctx, timeout)  # its own few workers (citations.py)
        results = list(pool.map(lambda t: (t, _probe(t, timeout)), todo))
    out = []
    for target, problem in results:
        if problem is None:
            cache[target.url] = now()
        elif target.kind == "doi":
            out.append(finding("online.doi", "warning", target.location, f"DOI {target.shown} does not resolve ({problem}); check it against the paper"))
        else:
            out.append(finding("online.broken-link", "warning", target.location, f"{target.shown} is broken ({problem})"))
    _save_cache(cache_path, cache)
    return out + citations.result()


def collect_targets(ctx: Context) -> list[Target]:
    skip = (f"{ctx.settings.base_url}/u/", ctx.webview_prefix(), *ctx.options.online_skip)
    resolver = ctx.options.doi_resolver
    targets: dict[str, Target] = {}
    urls = [l.href for l in ctx.scan.links] + [img.get("src") or "" for img in ctx.scan.images]
    for url in urls:
        if urlsplit(url).scheme.lower() not in ("http", "https") or url.startswith(skip):
            continue
        doi = DOI_URL_RE.match(url)
        if doi and DOI_RE.match(doi.group(1)):
            _add_doi(targets, doi.group(1), resolver, ctx)
        else:
            targets.setdefault(url, Target(url, url, "link", ctx.source.locate(url, "email.html")))
    for _, text in ctx.source.all_lines():
        for m in DOI_TEXT_RE.finditer(text):
            raw = m.group(1).rstrip(".,;:")
            if DOI_RE.match(raw):
                _add_doi(targets, raw, resolver, ctx)
    return list(targets.values())


def _add_doi(targets: dict[str, Target], doi: str, resolver: str, ctx: Context) -> None:
    url = resolver + quote(doi, safe="/:;()._-")
    targets.setdefault(url, Target(url, doi, "doi", ctx.source.locate(doi, "email.html")))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a DOI resolver's 3xx is the answer itself
        return None


def _probe(target: Target, timeout: float, deadline: float = DEADLINE) -> str | None:
    """None when the URL works, else a short reason."""
    watch = Watch(deadline)
    opener = watched_opener(watch, *([_NoRedirect()] if target.kind == "doi" else []))
    watch.start()
    try:
        problem = _request(opener, target.url, "HEAD", timeout)
        if problem is not None and not problem.startswith("timed out") and not watch.expired:
            problem = _request(opener, target.url, "GET", timeout)
    finally:
        watch.stop()
    return f"no complete answer within {deadline:g} s" if watch.expired else problem


def _request(opener, url: str, method: str, timeout: float) -> str | None:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (TimeoutError, socket.timeout):
        return f"timed out after {timeout:g} s"
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"timed out after {timeout:g} s"
        return str(getattr(reason, "strerror", None) or reason)
    except (OSError, ValueError, http.client.HTTPException) as err:  # HTTPException: a malformed or cut answer
        return str(err) or type(err).__name__
    return None if status < 400 else f"HTTP {status}"


def _load_cache(path: Path, now: float) -> dict[str, float]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("ok", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {url: t for url, t in entries.items() if isinstance(t, (int, float)) and now - t < CACHE_TTL}


def _save_cache(path: Path, cache: dict[str, float]) -> None:
    try:
        with atomic_write(path, "w", encoding="utf-8") as out:
            out.write(json.dumps({"ok": cache}, indent=1, sort_keys=True))
    except OSError:
        pass  # the cache only saves time; a read-only output folder must not fail the check
