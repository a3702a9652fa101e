"""Measure a page of the site in headless Chromium: a harness page frames it at a given width
and writes what it measured into data- attributes that ``chromium --dump-dom`` shows.

The site forbids framing (frame-ancestors 'none', X-Frame-Options), so for the measurement only
this wrapper drops those two headers; the page's markup and styles are the app's own bytes.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

# The page is framed with sandbox="allow-same-origin allow-forms": its own scripts cannot run (as
# with JavaScript off), while this harness may read it, fill the form and submit it once.
HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head>
<body data-measured="no"><iframe id="page" src="{path}" sandbox="allow-same-origin allow-forms" style="width:{width}px;height:900px;border:0" scrolling="no"></iframe>
<script>
var frame = document.getElementById('page'), loads = 0, body = document.body;
frame.addEventListener('load', function () {{
  var doc = frame.contentDocument;
  loads += 1;
  if (loads === 1) {{
    body.setAttribute('data-scroll-width', String(doc.documentElement.scrollWidth));
    body.setAttribute('data-scripts', String(doc.scripts.length));
    body.setAttribute('data-measured', 'yes');
    var form = doc.querySelector('form');
    if (form && "{submit}") {{
      form.querySelector('[name=email]').value = "{submit}";
      form.querySelector('[name=consent]').checked = true;
      form.querySelector('[type=submit]').click();
    }}
  }} else {{
    body.setAttribute('data-after-submit', doc.querySelector('h1').textContent);
  }}
}});
</script></body></html>"""
FRAMING = {b"x-frame-options"}


def measured_app(app):
    async def wrapper(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__measure":
            query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
            body = HARNESS.format(path=escape(query["path"]), width=int(query["width"]), submit=escape(query.get("submit", ""))).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html; charset=utf-8")]})
            await send({"type": "http.response.body", "body": body})
            return

        async def unframed(message):
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() in FRAMING:
                        continue
                    if name.lower() == b"content-security-policy":
                        value = value.replace(b"frame-ancestors 'none'", b"frame-ancestors 'self'")
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, unframed)

    return wrapper
