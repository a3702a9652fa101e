"""``check --online`` compares each reference with its DOI's Crossref record (checks/citations.py),
against a local server on 127.0.0.1 that speaks Crossref's JSON (never the internet)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import set_checks
from newsletter.checks import citations, run_checks


def work(title: str, year: int, journal: str, *, online_year: int | None = None, subtitle: str | None = None) -> dict:
    """A Crossref /works/{doi} answer, trimmed to the fields the check reads (and a few others)."""
    message = {
        "DOI": "x",
        "type": "journal-article",
        "title": [title],
        "container-title": [journal],
        "short-container-title": [],
        "issued": {"date-parts": [[year, 5, 10]]},
        "publisher": "Test Publisher",
    }
    if online_year:
        message["published-online"] = {"date-parts": [[online_year, 12, 1]]}
    if subtitle:
        message["subtitle"] = [subtitle]
    return {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": message}


WORKS = {
    "10.1234/match": work("MDMA-assisted therapy for severe PTSD: a randomized, double-blind, placebo-controlled phase 3 study", 2021, "Nature Medicine"),
    "10.1234/typo": work("Esketamine <i>nasal spray</i> for treatment-resistant depression", 2019, "The American Journal of Psychiatry", online_year=2018),
    "10.1234/wrong": work("Psilocybin for major depressive disorder", 2023, "JAMA"),
    "10.1234/subtitle": work("Ketamine for depression", 2020, "Psychopharmacology", subtitle="a systematic review"),
    "10.1234/neuro": work("A review of harms", 2024, "Neuropsychopharmacology"),
}


class _Crossref(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - the DOI resolver's answer: the DOI exists
        self.send_response(302)
        self.send_header("Location", "https://publisher.invalid/article")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append((self.path, self.headers.get("User-Agent")))
        if self.path.startswith("/doi/"):
            return self.do_HEAD()
        doi = unquote(self.path.removeprefix("/works/"))
        if doi == "10.1234/garbled":
            body, status, kind = b"<html>maintenance</html>", 200, "text/html"
        elif doi in WORKS:
            body, status, kind = json.dumps(WORKS[doi]).encode(), 200, "application/json"
        else:
            body, status, kind = b"Resource not found.", 404, "text/plain"  # what Crossref answers
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def crossref():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Crossref)
    httpd.seen = []
    thread = threading.Thread(target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port():
    """A socket that accepts connections and never answers (until the test ends)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held, done = [], threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


REFERENCES = """\
[^match]: Mitchell JM, et al. MDMA-assisted therapy for severe PTSD: a randomized, double-blind, placebo-controlled phase 3 study. *Nature Medicine*. 2021;27:1025–1033. https://doi.org/10.1234/match
[^typo]: Daly EJ, et al. Esketamine nasal spray for treatment resistant depresion. *American Journal of Psychiatry*. 2018. doi:10.1234/typo
[^wrong]: Smith A. Ketamine for bipolar depression in adolescents. *The Lancet*. 2019;1:1-2. https://doi.org/10.1234/wrong
[^again]: The same paper again. Mitchell JM, et al. MDMA-assisted therapy for severe PTSD: a randomized, double-blind, placebo-controlled phase 3 study. Nature Medicine, 2021. https://doi.org/10.1234/match
[^gone]: Nobody N. A paper Crossref never heard of. *Journal of Nothing*. 2020. https://doi.org/10.1234/unknown
[^sub]: Lee B. Ketamine for depression: a systematic review. *Psychopharmacology*. 2020. https://doi.org/10.1234/subtitle
[^neuro]: Colcott J. A review of harms. *Psychopharmacology*. 2024. https://doi.org/10.1234/neuro
"""


def write_issue(project: Path, port: int, extra_checks: str = "") -> tuple[Path, object]:
    base = f"http://127.0.0.1:{port}"
    settings = set_checks(
        project,
        f'online_skip = ["https://news.kairoswellness.org/", "https://kairoswellness.org/"]\n'
        f'doi_resolver = "{base}/doi/"\ncrossref_api = "{base}/works/"\n{extra_checks}',
    )
    cites = "".join(f"[^{label}]" for label in ("match", "typo", "wrong", "again", "gone", "sub", "neuro"))
    body = f"""---
title: Citations
subject: Checking references against their DOIs
preheader: A draft whose references are compared with a local Crossref stand-in.
date: 2026-11-26
authors: [Tester]
reviewed_by: Dr. Test
---

Several studies are cited here.{cites}

{REFERENCES}"""
    path = project / "issues" / "citations.md"
    path.write_text(body, encoding="utf-8")
    return Path("issues/citations.md"), settings


def reference_line(label: str) -> int:
    return 12 + next(i for i, line in enumerate(REFERENCES.splitlines()) if line.startswith(f"[^{label}]"))


def citation_findings(path, settings) -> list[tuple[str, str, str]]:
    found = run_checks(path, settings, online=True).findings
    assert not [f for f in found if f.id in ("online.doi", "online.broken-link")]
    return sorted((f.location, f.id, f.message) for f in found if f.id.startswith("online.citation"))


def test_references_are_compared_with_their_crossref_records(project, crossref):
    path, settings = write_issue(project, crossref.server_address[1])
    found = citation_findings(path, settings)
    assert [(loc, id_) for loc, id_, _ in found] == sorted(
        [
            (f"{path}:{reference_line('wrong')}", "online.citation-title"),
            (f"{path}:{reference_line('wrong')}", "online.citation-year"),
            (f"{path}:{reference_line('wrong')}", "online.citation-journal"),
            (f"{path}:{reference_line('gone')}", "online.citation-unverified"),
            (f"{path}:{reference_line('neuro')}", "online.citation-journal"),
        ]
    )
    messages = {(loc.rsplit(":", 1)[1], id_): m for loc, id_, m in found}
    wrong = str(reference_line("wrong"))
    assert messages[(wrong, "online.citation-title")].startswith("reference [3] (DOI 10.1234/wrong): the title does not match the one registered at Crossref, 'Psilocybin for major depressive disorder'")
    assert messages[(wrong, "online.citation-year")] == "reference [3] (DOI 10.1234/wrong): the reference gives 2019; Crossref has 2023"
    assert "'JAMA', is not named in the reference" in messages[(wrong, "online.citation-journal")]
    assert "Crossref has no record of it" in messages[(str(reference_line("gone")), "online.citation-unverified")]
    assert "'Neuropsychopharmacology', is not named" in messages[(str(reference_line("neuro")), "online.citation-journal")]


def test_each_doi_is_asked_once_per_run_with_a_polite_user_agent(project, crossref):
    path, settings = write_issue(project, crossref.server_address[1], 'crossref_mailto = "editor@kairoswellness.org"')
    citation_findings(path, settings)
    asked = [p for p, _ in crossref.seen if p.startswith("/works/")]
    assert sorted(asked) == sorted(f"/works/10.1234/{d}" for d in ("match", "typo", "wrong", "unknown", "subtitle", "neuro"))
    agents = {agent for p, agent in crossref.seen if p.startswith("/works/")}
    assert agents == {"newsletter-citecheck/0.1 (preflight check of references; mailto:editor@kairoswellness.org)"}

    crossref.seen.clear()
    path, settings = write_issue(project, crossref.server_address[1])
    citation_findings(path, settings)
    assert len([p for p, _ in crossref.seen if p.startswith("/works/")]) == 6  # a new run asks again
    assert {agent for p, agent in crossref.seen if p.startswith("/works/")} == {citations.USER_AGENT}


def test_the_offline_check_never_asks_crossref(project, crossref):
    path, settings = write_issue(project, crossref.server_address[1])
    run_checks(path, settings)
    assert crossref.seen == []


def test_an_answer_that_never_comes_is_reported_after_the_timeout(silent_port):
    answer = citations.fetch_record(f"http://127.0.0.1:{silent_port}/works/", "10.1234/match", 0.3, citations.USER_AGENT)
    assert answer == "Crossref did not answer within 0.3 s"


def test_a_404_and_an_answer_that_is_not_json_are_not_compared(crossref):
    base = f"http://127.0.0.1:{crossref.server_address[1]}/works/"
    assert citations.fetch_record(base, "10.1234/unknown", 5, citations.USER_AGENT).startswith("Crossref has no record of it")
    assert citations.fetch_record(base, "10.1234/garbled", 5, citations.USER_AGENT) == "Crossref's answer was not the JSON of a work"
    record = citations.fetch_record(base, "10.1234/typo", 5, citations.USER_AGENT)
    assert record == citations.Record(("Esketamine nasal spray for treatment-resistant depression",), (2019, 2018), ("The American Journal of Psychiatry",))


@pytest.mark.parametrize(
    "text, matches",
    [
        ("MDMA-Assisted Therapy for Severe PTSD - A Randomised, Double-Blind, Placebo-Controlled Phase 3 Study.", True),
        ("MDMA-assisted therapy for PTSD: an open-label pilot study.", False),
        ("Ketamine for depression.", False),
    ],
)
def test_titles_match_fuzzily(text, matches):
    title = "MDMA-assisted therapy for severe PTSD: a randomized, double-blind, placebo-controlled phase 3 study"
    assert citations.fuzzy_in(title, f"Mitchell JM, et al. {text} Nature Medicine. 2021.") is matches


def test_a_bad_crossref_setting_is_reported_when_the_config_loads(project):
    from newsletter.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        set_checks(project, 'crossref_api = "api.crossref.org"\ncrossref_mailto = "not an address"')
    assert "crossref_api" in err.value.message and "crossref_mailto" in err.value.message


@pytest.fixture
def trickling_crossref():
    """A server that sends its headers at once, without a length, then its body a byte every
    0.05 s (far below the read timeout), for far longer than the deadline; sets ``cut`` when
    the client shuts the connection part-way."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    cut, done = threading.Event(), threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
            for byte in b'{"message": {"title": ["' + b"x" * 2000:
                if done.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    cut.set()
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], cut
    done.set()
    thread.join()
    listener.close()


def test_a_record_trickled_without_a_length_is_cut_off_at_the_deadline(trickling_crossref):
    port, cut = trickling_crossref
    answer = citations.fetch_record(f"http://127.0.0.1:{port}/works/", "10.1234/match", 5.0, citations.USER_AGENT, deadline=0.5)
    assert answer == "Crossref gave no complete answer within 0.5 s"
    assert cut.wait(30), "the server went on sending: the deadline did not shut the connection"
