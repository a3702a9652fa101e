"""The email's design (issue 15, item 4): masthead, greeting, call to action, footer, in the
compiled parts (the phone tests look at the result in headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_render import SAMPLE, inline_style, tree

from newsletter.build.issue import load_issue
from newsletter.build.render import render_issue
from newsletter.config import load_settings
from newsletter.errors import ConfigError

DARK_LOGO = "https://news.kairoswellness.org/assets/kairos-logo-dark.png"


def edit_config(project: Path, old: str, new: str):
    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_settings(config)


def compiled(project: Path, settings):
    return render_issue(load_issue(project / SAMPLE), settings)


def test_the_masthead_names_the_newsletter_and_keeps_the_date_on_one_line(project, settings) -> None:
    html = compiled(project, settings).html
    name = inline_style(html, settings.name, "p")
    assert "font-size:24px" in name and "font-weight:700" in name
    # the date: non-breaking spaces in a nowrap span, so "2026" never wraps alone
    assert '<span style="white-space:nowrap;">November&#160;26,&#160;2026</span>' in html
    assert html.index(settings.name) < html.index("MDMA-assisted therapy for PTSD: where the research stands")


def test_the_logo_alt_text_is_styled_for_clients_that_block_images(project, settings) -> None:
    html = compiled(project, settings).html
    (logo,) = [attrs for tag, attrs in tree(html).elements if tag == "img"]
    assert logo["alt"] == settings.brand.logo_alt and logo["width"] == str(settings.brand.logo_width)
    for rule in ("font-family:", "font-size:16px", "font-weight:700", f"color:{settings.brand.primary_color}"):
        assert rule in logo["style"], rule
    assert "nl-logo-dark" not in html  # no dark logo unless one is configured


def test_a_dark_mode_logo_is_hidden_until_dark_mode(project) -> None:
    settings = edit_config(project, "logo_width = 160\n", f'logo_width = 160\nlogo_dark_url = "{DARK_LOGO}"\n')
    html = compiled(project, settings).html
    dark = next(attrs for tag, attrs in tree(html).elements if tag == "img" and attrs["src"] == DARK_LOGO)
    assert dark["alt"] == settings.brand.logo_alt and dark["width"] == "160"
    wrapper = ancestors_of_image(html, DARK_LOGO)
    assert "display:none" in wrapper and "mso-hide:all" in wrapper  # Outlook and clients without dark mode: hidden
    style = html[html.index("prefers-color-scheme: dark") :]
    assert ".nl-logo { display: none !important; }" in style and ".nl-logo-dark { display: block !important;" in style


def ancestors_of_image(html: str, src: str) -> str:
    start = html.index(f'src="{src}"')
    return html[html.rindex("<div", 0, start) : start]


@pytest.mark.parametrize("value", ['"http://news.kairoswellness.org/dark.png"', '"dark.png"', "true"])
def test_logo_dark_url_must_be_an_https_url(project, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        edit_config(project, "logo_width = 160\n", f"logo_width = 160\nlogo_dark_url = {value}\n")
    assert "[brand] logo_dark_url" in err.value.message


def test_the_greeting_can_be_switched_off(project, settings) -> None:
    on = compiled(project, settings)
    assert "Hi %%first_name%%," in on.html and "Hi %%first_name%%,\n" in on.text
    off = compiled(project, edit_config(project, 'first_name_fallback = "there"\n', 'first_name_fallback = "there"\ngreeting = false\n'))
    assert "Hi %%first_name%%" not in off.html and "Hi %%first_name%%" not in off.text
    assert "first_name" not in off.html_template.fields


def test_the_call_to_action_follows_the_clinic_section_before_the_references(project, settings) -> None:
    sample = compiled(project, settings)
    for part in (sample.html, sample.text):
        clinic, cta, refs = (part.index(s) for s in ("From Kairos Wellness Collective", settings.cta_label, "References"))
        assert clinic < cta < refs


def test_the_footer_has_a_reply_prompt_and_three_separate_tap_targets(project, settings) -> None:
    sample = compiled(project, settings)
    html = sample.html
    footer = html[html.index("Questions or comments on this issue?") :]
    links = re.findall(r'<div class="nl-footer-link"[^>]*><a href="([^"]+)" style="([^"]+)">([^<]+)</a></div>', footer)
    assert [(href, label) for href, _, label in links] == [
        ("%%webview_url%%", "View in browser"),
        ("%%preferences_url%%", "Manage preferences"),
        ("%%unsubscribe_url%%", "Unsubscribe"),
    ]
    for _, style, _ in links:  # a block 12 + 20 + 12 px tall: a 44 px tap target each
        assert "display:block" in style and "padding:12px 0" in style and "line-height:20px" in style
    for text in (settings.postal_address, settings.why_received):
        assert text in footer
    assert "Questions or comments on this issue? Reply to this email" in sample.text
    flat = " ".join(sample.text.split())
    assert flat.index("Reply to this email") < flat.index("Not medical advice") < flat.index("Unsubscribe:")


def test_the_footer_text_is_larger_and_darker_than_before(project, settings) -> None:
    html = compiled(project, settings).html
    style = inline_style(html, settings.postal_address)
    assert "font-size:14px" in style and "color:#3d4852" in style
