"""newsletter.toml + environment -> frozen Settings. Every problem is reported at once.

The file is found from the current folder upward, or given by ``--config`` / ``NEWSLETTER_CONFIG``.
Relative paths in it resolve against its own folder. Secrets never live here: they come from
the environment only (see ``secret``).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

CONFIG_NAME = "newsletter.toml"
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class Brand:
    logo_url: str
    logo_alt: str
    logo_width: int
    primary_color: str
    text_color: str
    background_color: str
    link_color: str


@dataclass(frozen=True)
class Signup:
    """The public sign-up form (double opt-in) and what its consent record keeps."""

    consent_text: str = "Yes, send me the monthly research newsletter. I can unsubscribe at any time."
    consent_version: str = "1"
    confirm_days: int = 7
    per_ip_per_hour: int = 20
    per_address_per_day: int = 3


@dataclass(frozen=True)
class Settings:
    path: Path
    root: Path
    name: str
    language: str
    from_name: str
    from_address: str
    reply_to: str | None
    postal_address: str
    base_url: str
    brand: Brand
    disclaimer: str
    why_received: str
    first_name_fallback: str
    cta_label: str
    cta_url: str
    unsubscribe_mailto: str
    templates_dir: Path
    issues_dir: Path
    output_dir: Path
    outbox_dir: Path
    database: Path
    provider: str
    workers: int
    rate_limit: float  # messages per second, 0 = unlimited
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    checks: Mapping[str, Any] = field(default_factory=dict)
    # Preference-centre topics, in file order: tag (as `send --tag` uses it) -> label shown to readers.
    topics: Mapping[str, str] = field(default_factory=dict)
    signup: "Signup" = field(default_factory=lambda: Signup())

    @property
    def from_header(self) -> str:
        from email.utils import formataddr

        return formataddr((self.from_name, self.from_address))

    @property
    def sending_domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def provider_options(self, name: str) -> Mapping[str, Any]:
        return self.providers.get(name, {})


# Schema: table -> key -> (type, default). A default of REQUIRED means the key must be given.
REQUIRED = object()
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    "newsletter": {"name": (str, REQUIRED), "language": (str, "en")},
    "sender": {
        "from_name": (str, REQUIRED),
        "from_address": (str, REQUIRED),
        "reply_to": (str, None),
        "postal_address": (str, REQUIRED),
    },
    "site": {"base_url": (str, REQUIRED)},
    "brand": {
        "logo_url": (str, REQUIRED),
        "logo_alt": (str, REQUIRED),
        "logo_width": (int, 160),
        "primary_color": (str, "#2f5d50"),
        "text_color": (str, "#1f2933"),
        "background_color": (str, "#f4f1ea"),
        "link_color": (str, "#1d5c8c"),
    },
    "content": {
        "disclaimer": (str, REQUIRED),
        "why_received": (str, REQUIRED),
        "first_name_fallback": (str, "there"),
    },
    "cta": {"label": (str, REQUIRED), "url": (str, REQUIRED)},
    "unsubscribe": {"mailto": (str, REQUIRED)},
    "paths": {
        "templates": (str, "templates"),
        "issues": (str, "issues"),
        "output": (str, "build"),
        "outbox": (str, "outbox"),
    },
    "storage": {"database": (str, "data/newsletter.db")},
    "provider": {"name": (str, "outbox"), "workers": (int, 4), "rate_limit": ((int, float), 0)},
    "providers": {},  # free-form per provider; each adapter validates its own table
    "checks": {},  # free-form; checks.py validates its own keys
    "topics": {},  # free-form: tag = "label shown on the preferences page"
    "signup": {
        "consent_text": (str, Signup.consent_text),
        "consent_version": (str, Signup.consent_version),
        "confirm_days": (int, Signup.confirm_days),
        "per_ip_per_hour": (int, Signup.per_ip_per_hour),
        "per_address_per_day": (int, Signup.per_address_per_day),
    },
}
OPTIONAL_TABLES = {"paths", "storage", "provider", "providers", "checks", "unsubscribe", "topics", "signup"}


def find_config(start: Path | None = None, explicit: str | os.PathLike | None = None) -> Path:
    """The config path: explicit, else $NEWSLETTER_CONFIG, else newsletter.toml upward from start."""
    given = explicit or os.environ.get("NEWSLETTER_CONFIG")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found", hint="Check the --config path or NEWSLETTER_CONFIG.")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"{here}: no {CONFIG_NAME} in this folder or any parent",
        hint="Run newsletter from the project folder, or pass --config PATH.",
    )


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the config file; raise one ConfigError listing every problem."""
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        line = re.search(r"line (\d+)", str(err))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: invalid TOML: {err}", hint="Fix the syntax at that line.") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from err

    problems: list[str] = []
    values = _validate(raw, problems)
    root = path.parent
    _check_formats(values, problems)
    if problems:
        listing = "; ".join(problems)
        raise ConfigError(
            f"{path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}: {listing}",
            hint="Fix these keys in newsletter.toml; every problem is listed above.",
        )
    return _build(path, root, values, env)


def _validate(raw: Mapping[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for table in raw:
        if table not in SCHEMA:
            problems.append(f"unknown table [{table}]{_did_you_mean(table, SCHEMA)}")
    for table, keys in SCHEMA.items():
        given = raw.get(table, {})
        if not isinstance(given, dict):
            problems.append(f"[{table}] must be a table")
            values[table] = {}  # the format checks below still look the table up
            continue
        if table not in raw and table not in OPTIONAL_TABLES:
            problems.append(f"[{table}] is required")
        if not keys:  # free-form table
            values[table] = dict(given)
            continue
        for key in given:
            if key not in keys:
                problems.append(f"[{table}] unknown key '{key}'{_did_you_mean(key, keys)}")
        values[table] = {}
        for key, (kind, default) in keys.items():
            if key not in given:
                if default is REQUIRED and table in raw:
                    problems.append(f"[{table}] {key} is required")
                values[table][key] = None if default is REQUIRED else default
                continue
            value = given[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                problems.append(f"[{table}] {key} must be {_kind_name(kind)}")
            values[table][key] = value
    return values


def _check_formats(values: dict[str, dict[str, Any]], problems: list[str]) -> None:
    for key in ("from_address", "reply_to"):
        address = values["sender"].get(key)
        if isinstance(address, str) and not EMAIL_RE.match(address):
            problems.append(f"[sender] {key} '{address}' is not an email address")
    mailto = values["unsubscribe"].get("mailto")
    if isinstance(mailto, str) and not EMAIL_RE.match(mailto):
        problems.append(f"[unsubscribe] mailto '{mailto}' is not an email address")
    for table, key in (("site", "base_url"), ("cta", "url"), ("brand", "logo_url")):
        url = values[table].get(key)
        if isinstance(url, str) and not url.startswith("https://"):
            problems.append(f"[{table}] {key} must be an absolute https:// URL")
    for key, value in values["brand"].items():
        if key.endswith("_color") and isinstance(value, str) and not COLOR_RE.match(value):
            problems.append(f"[brand] {key} '{value}' must be a colour like #1a2b3c")
    provider = values["provider"]
    if isinstance(provider.get("workers"), int) and not 1 <= provider["workers"] <= 32:
        problems.append("[provider] workers must be between 1 and 32")
    if isinstance(provider.get("rate_limit"), (int, float)) and provider["rate_limit"] < 0:
        problems.append("[provider] rate_limit must be 0 (unlimited) or more")
    for name, table in values["providers"].items():
        if not isinstance(table, dict):
            problems.append(f"[providers.{name}] must be a table")
    for tag, label in values["topics"].items():
        if not isinstance(label, str) or not label.strip():
            problems.append(f"[topics] {tag} must be a label (a non-empty string)")
    for key in ("confirm_days", "per_ip_per_hour", "per_address_per_day"):
        number = values["signup"].get(key)
        if isinstance(number, int) and number < 1:
            problems.append(f"[signup] {key} must be 1 or more")


def _build(path: Path, root: Path, v: dict[str, dict[str, Any]], env: Mapping[str, str]) -> Settings:
    def resolve(p: str) -> Path:
        return (root / Path(p).expanduser()).resolve()

    database = env.get("NEWSLETTER_DATABASE") or v["storage"]["database"]
    return Settings(
        path=path,
        root=root,
        name=v["newsletter"]["name"],
        language=v["newsletter"]["language"],
        from_name=v["sender"]["from_name"],
        from_address=v["sender"]["from_address"],
        reply_to=v["sender"]["reply_to"],
        postal_address=v["sender"]["postal_address"].strip(),
        base_url=v["site"]["base_url"].rstrip("/"),
        brand=Brand(**v["brand"]),
        disclaimer=v["content"]["disclaimer"].strip(),
        why_received=v["content"]["why_received"].strip(),
        first_name_fallback=v["content"]["first_name_fallback"],
        cta_label=v["cta"]["label"],
        cta_url=v["cta"]["url"],
        unsubscribe_mailto=v["unsubscribe"]["mailto"],
        templates_dir=resolve(v["paths"]["templates"]),
        issues_dir=resolve(v["paths"]["issues"]),
        output_dir=resolve(v["paths"]["output"]),
        outbox_dir=resolve(v["paths"]["outbox"]),
        database=resolve(database),
        provider=v["provider"]["name"],
        workers=v["provider"]["workers"],
        rate_limit=float(v["provider"]["rate_limit"]),
        providers={name: dict(table) for name, table in v["providers"].items()},
        checks=dict(v["checks"]),
        topics={tag.strip().lower(): label.strip() for tag, label in v["topics"].items()},
        signup=Signup(**v["signup"]),
    )


def secret(name: str, env: Mapping[str, str] | None = None, *, purpose: str) -> str:
    """Read a secret from the environment; its value is never put in a message."""
    value = (os.environ if env is None else env).get(name, "")
    if not value:
        raise ConfigError(f"environment: {name} is not set ({purpose})", hint=f"export {name}=... before running.")
    return value


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
