"""The site's shell over real HTTP: health check, security headers, body limit, token redaction."""

from __future__ import annotations

import logging

import requests

from newsletter.web.app import create_app
from newsletter.web.security import RedactTokens, redact
from web_server import serving


def test_healthz_answers_over_http_with_security_headers(settings):
    with serving(create_app(settings)) as base:
        reply = requests.get(f"{base}/healthz", timeout=10)
    assert reply.status_code == 200 and reply.text == "ok"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_a_body_over_the_limit_is_refused_before_it_is_read(settings):
    with serving(create_app(settings)) as base:
        reply = requests.post(f"{base}/healthz", data=b"x" * (65 * 1024), timeout=10)
    assert reply.status_code == 413


def test_tokens_in_paths_are_redacted_from_the_access_log():
    assert redact('"POST /u/1a.Zx9_-k HTTP/1.1" 200') == '"POST /u/[token] HTTP/1.1" 200'
    assert redact("/p/abc.def?x=1") == "/p/[token]?x=1"
    assert redact("/confirm/abc.def/") == "/confirm/[token]/"
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/u/2b.secretmac", "1.1", 200), None)
    RedactTokens().filter(record)
    assert "secretmac" not in record.getMessage()
