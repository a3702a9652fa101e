"""What a reviewer approves: a hash of everything that reaches subscribers, part by part.

The parts (README, Approval): every front-matter key except ``status`` (a workflow flag) and
``reviewed_by`` (the email's "Reviewed by" line comes from the approval, not from it); the
Markdown body; every file under the templates folder; and the settings the message is made of
(``CONTENT_SETTINGS``). Each part is hashed on its own, so a stale approval can say which
part changed; the digest is the hash of all of them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..config import Settings
from ..errors import TemplateError
from ..models import Issue

# Front-matter values that reach subscribers (Issue fields; the slug names the web view link).
FRONT_MATTER_KEYS = ("title", "subject", "preheader", "date", "slug", "authors", "tags")
# newsletter.toml settings a message is made of: "[table] key" -> its value in Settings.
CONTENT_SETTINGS = {
    "[newsletter] name": lambda s: s.name,
    "[newsletter] language": lambda s: s.language,
    "[sender] from_name": lambda s: s.from_name,
    "[sender] from_address": lambda s: s.from_address,
    "[sender] reply_to": lambda s: s.reply_to,
    "[sender] postal_address": lambda s: s.postal_address,
    "[site] base_url": lambda s: s.base_url,
    "[content] disclaimer": lambda s: s.disclaimer,
    "[content] why_received": lambda s: s.why_received,
    "[content] first_name_fallback": lambda s: s.first_name_fallback,
    "[cta] label": lambda s: s.cta_label,
    "[cta] url": lambda s: s.cta_url,
    "[unsubscribe] mailto": lambda s: s.unsubscribe_mailto,
}
BRAND_KEYS = ("logo_url", "logo_alt", "logo_width", "primary_color", "text_color", "background_color", "link_color")
CONTENT_SETTINGS.update({f"[brand] {key}": (lambda s, key=key: getattr(s.brand, key)) for key in BRAND_KEYS})


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # sha256 over every part
    parts: Mapping[str, str]  # part name ("front matter: subject", "body", "template: ...") -> sha256


def content_fingerprint(issue: Issue, settings: Settings) -> Fingerprint:
    parts: dict[str, str] = {}
    for key in FRONT_MATTER_KEYS:
        parts[f"front matter: {key}"] = _hash(getattr(issue, key))
    parts["body"] = _hash(issue.body)
    for name, data in _template_files(settings.templates_dir):
        parts[f"template: {name}"] = hashlib.sha256(data).hexdigest()
    for name, value in CONTENT_SETTINGS.items():
        parts[f"config: {name}"] = _hash(value(settings))
    digest = _hash(parts)
    return Fingerprint(digest, parts)


def changed_parts(approved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The part names whose hash differs, in the current order (then parts since removed)."""
    changed = [name for name, value in current.items() if approved.get(name) != value]
    return changed + [name for name in approved if name not in current]


def _template_files(folder: Path) -> list[tuple[str, bytes]]:
    try:
        return [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]
    except OSError as err:
        raise TemplateError(f"{folder}: cannot read the templates: {err.strerror}", hint="Check [paths] templates in newsletter.toml.") from err


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
