"""The site's Jinja2 templates (newsletter/web/templates), for the app's pages and for files
written without a server (the static archive, the confirmation email)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..config import Settings

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # .html and .xml are autoescaped; .txt (plain-text email) is not.
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]))


def render(template: str, settings: Settings, **values: Any) -> str:
    return _environment().get_template(template).render(settings=settings, **values)
