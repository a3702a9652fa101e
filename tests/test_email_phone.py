"""The compiled email on a 375 px screen in real headless Chromium (marked ``browser``): no word
in a table cell breaks mid-word, nothing scrolls sideways, the masthead names the newsletter and
the footer's links are separate tap targets of at least 44 px; citation marks lead to their
references, whose links fit on one line in smaller type."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from html import escape
from pathlib import Path

import pytest
from test_preview import CHROMIUM, NO_INTERNET, needs_chromium
from test_render import SAMPLE

from newsletter.build.issue import load_issue
from newsletter.build.render import render_issue
from newsletter.preview.snapshots import chromium_command

pytestmark = [pytest.mark.browser, needs_chromium]

# The email in a 375 px frame (headless Chromium's window is at least 500 px wide), as the
# preview shows it; after load the page writes what it measured into <body data-result="...">.
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0}iframe{border:0;width:375px;height:15000px}</style></head>
<body><iframe id="email" srcdoc="SRCDOC"></iframe><script>MEASURE</script></body></html>"""
MEASURE = r"""
document.getElementById('email').addEventListener('load', function () {
  var frame = this.contentWindow, document = frame.document, getComputedStyle = frame.getComputedStyle.bind(frame), NodeFilter = frame.NodeFilter;
  var out = {scrollWidth: document.documentElement.scrollWidth, viewport: frame.innerWidth, cells: 0, words: 0, broken: [], links: {}};
  // data tables: MJML's layout tables all carry role="presentation"
  var cells = document.querySelectorAll('table:not([role=presentation]) th, table:not([role=presentation]) td');
  var range = document.createRange();
  cells.forEach(function (cell) {
    out.cells++;
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), node;
    while ((node = walker.nextNode())) {
      var re = /[\p{L}\p{N}]+/gu, m;
      while ((m = re.exec(node.data))) {
        out.words++;
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        var tops = new Set(Array.from(range.getClientRects()).map(function (r) { return Math.round(r.top); }));
        if (tops.size > 1) out.broken.push(m[0]);
      }
    }
  });
  document.querySelectorAll('a').forEach(function (a) {
    var r = a.getBoundingClientRect();
    out.links[a.textContent.trim()] = {top: r.top, bottom: r.bottom, height: r.height, width: r.width};
  });
  var name = Array.from(document.querySelectorAll('p')).find(function (p) { return p.textContent.trim() === NAME; });
  out.name = name ? {top: name.getBoundingClientRect().top, fontSize: getComputedStyle(name).fontSize} : null;
  var date = Array.from(document.querySelectorAll('span')).find(function (s) { return /\d{4}$/.test(s.textContent); });
  out.dateLines = date ? new Set(Array.from(date.getClientRects()).map(function (r) { return Math.round(r.top); })).size : 0;
  // citation marks and their targets; the reference links' lines (a raw URL took up to five)
  out.anchors = Array.from(document.querySelectorAll('a[href^="#"]')).map(function (a) {
    return {href: a.getAttribute('href'), found: !!document.getElementById(a.getAttribute('href').slice(1))};
  });
  out.refLinkLines = Array.from(document.querySelectorAll('li[id^="ref-"] a')).map(function (a) {
    return new Set(Array.from(a.getClientRects()).map(function (r) { return Math.round(r.top); })).size;
  });
  var box = document.querySelector('.nl-key-box'), title = document.querySelector('h1');
  out.keyBox = box ? {top: box.getBoundingClientRect().top, width: box.getBoundingClientRect().width, belowTitle: box.getBoundingClientRect().top > title.getBoundingClientRect().bottom, words: box.textContent.split(/\s+/).length} : null;
  var ref = document.querySelector('li[id^="ref-"]');
  out.refFontSize = ref ? getComputedStyle(ref).fontSize : null;
  window.document.body.setAttribute('data-result', JSON.stringify(out));
});
"""

WIDE_TABLE = """\
---
title: "Esketamine trials at a glance"
subject: "Esketamine trials at a glance"
preheader: "A table with long words in narrow columns, as a phone shows it."
date: 2026-12-17
---

| Trial | Participants | Discontinuation | Comparator |
|---|---|---|---|
| TRANSFORM-2 | 223 adults, treatment-resistant depression | 7 participants (esketamine) | Placebo nasal spray plus antidepressant |
| SUSTAIN-1 | 297 randomized responders | Relapse-prevention design | Antidepressant continued |
"""


def measure(html: str, name: str, tmp: Path) -> dict:
    page = tmp / "email.html"
    page.write_text(PAGE.replace("SRCDOC", escape(html)).replace("MEASURE", MEASURE.replace("NAME", json.dumps(name))), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="newsletter-chromium-") as profile:
        command = chromium_command(CHROMIUM, Path(profile), "--window-size=375,2000", NO_INTERNET, "--dump-dom", page.as_uri())
        dom = subprocess.run(command, capture_output=True, timeout=120, check=True).stdout.decode("utf-8", "replace")
    found = re.search(r'data-result="([^"]*)"', dom)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def filled(compiled) -> str:
    values = {"first_name": "Alex", "unsubscribe_url": "https://news.example.org/u/t", "webview_url": "https://news.example.org/issues/x/",
              "preferences_url": "https://news.example.org/p/t"}
    return compiled.html_template.fill(values)


def test_the_sample_issue_at_375px(project, settings, tmp_path) -> None:
    result = measure(filled(render_issue(load_issue(project / SAMPLE), settings)), settings.name, tmp_path)
    assert result["viewport"] == 375 and result["scrollWidth"] <= 375, result
    assert result["cells"] >= 12 and result["words"] > 40, result  # the sample's table was measured
    assert result["broken"] == []
    assert result["name"] and result["name"]["top"] < 200 and result["name"]["fontSize"] == "24px", result["name"]
    assert result["dateLines"] == 1
    footer = [result["links"][label] for label in ("View in browser", "Manage preferences", "Unsubscribe")]
    for link in footer:
        assert link["height"] >= 44 and link["width"] >= 300, footer
    for upper, lower in zip(footer, footer[1:], strict=False):
        assert lower["top"] >= upper["bottom"], footer  # separate targets, one under the other
    assert len(result["anchors"]) >= 6 and all(a["found"] for a in result["anchors"]), result["anchors"]
    assert result["refLinkLines"] and max(result["refLinkLines"]) == 1, result["refLinkLines"]  # short labels fit on one line
    assert result["refFontSize"] == "13px"


def test_a_wide_table_with_long_words_breaks_no_word_and_never_widens_the_page(project, settings, tmp_path) -> None:
    issue = project / "issues" / "2026-12-esketamine.md"
    issue.write_text(WIDE_TABLE, encoding="utf-8")
    result = measure(filled(render_issue(load_issue(issue), settings)), settings.name, tmp_path)
    assert result["cells"] == 12 and result["scrollWidth"] <= 375, result
    assert result["broken"] == [], result["broken"]


def test_the_december_issue_leads_with_its_key_points_box(project, settings, tmp_path) -> None:
    issue = Path(__file__).resolve().parents[1] / "issues" / "2026-12-ketamine-assisted-psychotherapy.md"
    result = measure(filled(render_issue(load_issue(issue), settings)), settings.name, tmp_path)
    assert result["scrollWidth"] <= 375 and result["broken"] == [], result
    box = result["keyBox"]
    assert box and box["words"] < 80, box  # its three points, not the intro after them
    assert box["belowTitle"] and box["top"] < 600 and 300 <= box["width"] <= 330, box  # first thing after the masthead, inside the column
