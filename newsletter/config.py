"""newsletter.toml + environment -> frozen Settings. Every problem is reported at once.

The file is found from the current folder upward, or given by ``--config`` / ``NEWSLETTER_CONFIG``.
Relative paths in it resolve against its own folder. Secrets never live here: they come from
the environment only (see ``secret``).

Every key is declared as an ``Option`` (options.py): the tables here in ``TABLES``, each
provider's in its adapter class (providers/base.py). ``load_settings`` checks the whole file
against them before any command does anything, and reports every problem with its line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, located
from .options import REQUIRED, Option, Problem, check_table, did_you_mean
from .providers.base import REGISTRY, check_provider_table, provider_options

CONFIG_NAME = "newsletter.toml"


@dataclass(frozen=True)
class Brand:
    logo_url: str
    logo_alt: str
    logo_width: int
    logo_dark_url: str | None
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
    greeting: bool
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
    checks: Mapping[str, Any] = field(default_factory=dict)  # the keys given, typed (compiled regexes)
    # Preference-centre topics, in file order: tag (as `send --tag` uses it) -> label shown to readers.
    topics: Mapping[str, str] = field(default_factory=dict)
    signup: "Signup" = field(default_factory=lambda: Signup())
    busy_timeout: float = 30.0  # [storage] busy_timeout_seconds
    # [storage] url / NEWSLETTER_DATABASE_URL: PostgreSQL instead of the SQLite file (never created then)
    database_url: str | None = None

    @property
    def database_shown(self) -> str:
        """The database as an error message names it: the file, or the URL without a password."""
        from .storage_url import without_password

        return without_password(self.database_url) if self.database_url else str(self.database)

    @property
    def from_header(self) -> str:
        from email.utils import formataddr

        return formataddr((self.from_name, self.from_address))

    @property
    def sending_domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def provider_options(self, name: str) -> Mapping[str, Any]:
        return self.providers.get(name, {})


# Every table and key of newsletter.toml ([providers.<name>] tables: see providers/base.py).
TABLES: dict[str, tuple[Option, ...]] = {
    "newsletter": (
        Option("name", "line", REQUIRED, "the newsletter's name (List-Id, page titles)"),
        Option("language", "line", "en", "the language of the issues (the HTML lang attribute)"),
    ),
    "sender": (
        Option("from_name", "line", REQUIRED, "the From display name"),
        Option("from_address", "email", REQUIRED, "the From address; its domain is the sending domain"),
        Option("reply_to", "email", None, "where replies go (default: the From address)"),
        Option("postal_address", "string", REQUIRED, "the sender's postal address, in every email (CAN-SPAM)"),
    ),
    "site": (Option("base_url", "https_url", REQUIRED, "the public site: web-view and unsubscribe links"),),
    "brand": (
        Option("logo_url", "https_url", REQUIRED, "the logo image at the top of every email"),
        Option("logo_alt", "line", REQUIRED, "the logo's alt text"),
        Option("logo_width", "integer", 160, "the logo's width in pixels", min=1, max=600),
        Option("logo_dark_url", "https_url", None, "a logo for dark mode (light on dark), same size (default: the logo)"),
        Option("primary_color", "colour", "#2f5d50", "headings, buttons and the header bar"),
        Option("text_color", "colour", "#1f2933", "body text"),
        Option("background_color", "colour", "#f4f1ea", "the page behind the email's column"),
        Option("link_color", "colour", "#1d5c8c", "links"),
    ),
    "content": (
        Option("disclaimer", "string", REQUIRED, "shown in both parts of every email"),
        Option("why_received", "string", REQUIRED, "why the reader gets this email, in the footer"),
        Option("first_name_fallback", "line", "there", "the {{ first_name }} of a subscriber without one"),
        Option("greeting", "boolean", True, "start every email with 'Hi {{ first_name }},' (false: no greeting)"),
    ),
    "cta": (
        Option("label", "line", REQUIRED, "the call to action at the end of every issue"),
        Option("url", "https_url", REQUIRED, "where it links to"),
    ),
    # Optional: without it List-Unsubscribe carries only the https URL (README, Unsubscribe by email).
    "unsubscribe": (Option("mailto", "email_or_empty", "", "the address in List-Unsubscribe's mailto: URI (empty: none)"),),
    "paths": (
        Option("templates", "path", "templates", "the email templates"),
        Option("issues", "path", "issues", "the issues' Markdown files"),
        Option("output", "path", "build", "where build writes"),
        Option("outbox", "path", "outbox", "where the outbox provider writes .eml files"),
    ),
    "storage": (
        Option("database", "path", "data/newsletter.db", "the SQLite database (NEWSLETTER_DATABASE overrides)"),
        Option(
            "url", "database_url", None,
            "a shared PostgreSQL database instead of SQLite (NEWSLETTER_DATABASE_URL overrides); the password comes from PGPASSWORD or ~/.pgpass",
        ),
        Option("busy_timeout_seconds", "number", 30.0, "how long a write waits while the database is locked or full", min=0.1, max=3600),
    ),
    "provider": (
        Option("name", "string", "outbox", "the provider that sends", choices=tuple(REGISTRY)),
        Option("workers", "integer", 4, "batches in flight at once", min=1, max=32),
        Option("rate_limit", "number", 0.0, "messages per second, 0 = unlimited", min=0),
    ),
    "checks": (
        Option("extra_claim_phrases", "strings", None, "phrases the claims check also flags (warnings), beside its categories"),
        Option("disclaimer_pattern", "regex", None, "a regex (case-insensitive) instead of [content] disclaimer"),
        Option("postal_address_pattern", "regex", None, "a regex instead of [sender] postal_address"),
        Option("ignore", "strings", None, "warning ids (fnmatch patterns) to leave out; errors always count"),
        Option("online_skip", "strings", None, "URL prefixes --online never fetches"),
        Option("doi_resolver", "url", None, "where --online resolves DOIs (https://doi.org/)"),
        Option("spamassassin", "boolean", None, "false: never run SpamAssassin (true)"),
        # readability (checks/readability.py) and Crossref citations (checks/online.py)
        Option("reading_grade_target", "number", None, "a warning above this Flesch-Kincaid grade (10)", min=1, max=20),
        Option("sentence_max_words", "integer", None, "a warning for longer sentences (30)", min=5),
        Option("glossary", "strings", None, "replaces the default glossary of jargon terms"),
        Option("extra_glossary", "strings", None, "added to the glossary"),
        Option("glossary_remove", "strings", None, "taken out of the glossary"),
        Option("crossref_api", "url", None, "where --online looks DOIs up (https://api.crossref.org/works/)"),
        Option("crossref_mailto", "email", None, "your address in the User-Agent of Crossref requests (their polite pool)"),
    ),
    "signup": (
        Option("consent_text", "string", Signup.consent_text, "shown beside the sign-up button, kept in the consent record"),
        Option("consent_version", "string", Signup.consent_version, "kept with it; change it when the text changes"),
        Option("confirm_days", "integer", Signup.confirm_days, "days a confirmation link stays valid", min=1),
        Option("per_ip_per_hour", "integer", Signup.per_ip_per_hour, "sign-ups accepted per IP address per hour", min=1),
        Option("per_address_per_day", "integer", Signup.per_address_per_day, "confirmation emails per address per day", min=1),
    ),
}
# Tables checked by their own rules: [providers.<name>] against each adapter, [topics] free-form.
OWN_RULES = ("providers", "topics")
REQUIRED_TABLES = ("newsletter", "sender", "site", "brand", "content", "cta")
KNOWN_TABLES = (*TABLES, *OWN_RULES)


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
    """Parse and check the config file; raise one ConfigError listing every problem.

    Nothing else has run yet: no lock, database or network is touched before this passes."""
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = re.search(r"line (\d+)", str(err))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: invalid TOML: {err}", hint="Fix the syntax at that line.") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text: {err.reason}", hint="Save newsletter.toml as UTF-8.") from err

    values, problems = _check(raw)
    if problems:
        raise _report(path, text, problems)
    return _build(path, path.parent, values, env)


def _check(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Every table typed, and every problem in the whole file."""
    problems = [Problem(table, None, f"unknown table [{table}]{did_you_mean(table, KNOWN_TABLES)}") for table in raw if table not in KNOWN_TABLES]
    problems += [Problem(table, None, f"[{table}] is required") for table in REQUIRED_TABLES if table not in raw]
    values: dict[str, Any] = {}
    for table in KNOWN_TABLES:
        given = raw.get(table, {})
        if not isinstance(given, dict):
            problems.append(Problem(table, None, f"[{table}] must be a table"))
            given = {}
        if table == "providers":
            values[table] = _check_providers(given, problems)
        elif table == "topics":
            values[table] = _check_topics(given, problems)
        else:
            values[table], found = check_table(table, given, TABLES[table])
            # A missing optional table has no required keys: its defaults stand (e.g. [unsubscribe]).
            problems += [p for p in found if table in raw or p.key is not None]
    return values, problems


def _check_providers(given: Mapping[str, Any], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Each [providers.<name>] against its adapter's options, the selected one or not: switching
    provider is a one-line change, so a mistake in the other table is reported now."""
    tables = {}
    for name, table in given.items():
        where = f"providers.{name}"
        if name not in REGISTRY:
            problems.append(Problem(where, None, f"[{where}] unknown provider '{name}'{did_you_mean(name, REGISTRY)}"))
        elif not isinstance(table, dict):
            problems.append(Problem(where, None, f"[{where}] must be a table"))
        else:
            typed, found = check_provider_table(name, table)
            problems += found
            tables[name] = {key: value for key, value in typed.items() if key in table}  # unset: the reader's default
    return tables


def _check_topics(given: Mapping[str, Any], problems: list[Problem]) -> dict[str, str]:
    for tag, label in given.items():
        if not isinstance(label, str) or not label.strip():
            problems.append(Problem("topics", tag, f"[topics] {tag} must be a label (a non-empty string)"))
    return {tag: label for tag, label in given.items() if isinstance(label, str)}


def _report(path: Path, text: str, problems: list[Problem]) -> ConfigError:
    """One error: a single problem on one line, several as a count then one line each, in file order."""
    lines = key_lines(text)
    where = _shown(path)
    placed = sorted(((lines.get((p.table, p.key)) or lines.get((p.table, None)), p) for p in problems), key=lambda lp: lp[0] or 1 << 30)
    if len(placed) == 1:
        line, problem = placed[0]
        return ConfigError(located(where, line, problem.text), hint=_hint_for(problem))
    listing = "\n".join("  " + located(where, line, problem.text) for line, problem in placed)
    return ConfigError(
        f"{where}: {len(placed)} problems:\n{listing}",
        hint="Fix these keys in newsletter.toml; README, Configuration, lists every key.",
    )


def _hint_for(problem: Problem) -> str:
    """What the key means, and where the user guide lists the keys of its table."""
    option = _option(problem.table, problem.key)
    meaning = f"{problem.key}: {option.help}. " if option else ""
    guide = "Providers" if problem.table.startswith("providers.") else "Configuration"
    return f"{meaning}Fix it in newsletter.toml; README, {guide}, lists every key."


def _option(table: str, key: str | None) -> Option | None:
    provider = table.removeprefix("providers.") if table.startswith("providers.") else None
    options = provider_options(provider) if provider in REGISTRY else TABLES.get(table, ())
    return next((o for o in options if o.key == key), None)


def _shown(path: Path) -> str:
    """The path as the user would type it: relative when under the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


HEADER_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
KEY_RE = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def key_lines(text: str) -> dict[tuple[str, str | None], int]:
    """(table, key) -> line number and (table, None) -> its header's line: a plain scan for
    ``[table]`` and ``key =`` (tomllib gives no positions), skipping multi-line strings."""
    found: dict[tuple[str, str | None], int] = {}
    table, in_string = "", False
    for number, line in enumerate(text.splitlines(), start=1):
        quotes = line.count('"""') + line.count("'''")
        if not in_string:
            header, key = HEADER_RE.match(line), KEY_RE.match(line)
            if header:
                table = _dotted(header.group(1))
                found.setdefault((table, None), number)
            elif key:
                *inner, name = _dotted(key.group(1)).split(".")
                found.setdefault((".".join([table, *inner]).strip("."), name), number)
        in_string ^= quotes % 2 == 1
    return found


def _dotted(name: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in name.split("."))


def _build(path: Path, root: Path, v: dict[str, dict[str, Any]], env: Mapping[str, str]) -> Settings:
    def resolve(p: str | Path) -> Path:
        return (root / Path(p).expanduser()).resolve()

    def place(p: str | Path) -> Path:
        """Absolute, but a symbolic link in it is kept, not followed: the folders the tool
        writes into refuse one (files.real_folder), so it must still be visible."""
        return Path(os.path.abspath(root / Path(p).expanduser()))

    def resolve_paths(table: Mapping[str, Any]) -> dict[str, Any]:
        return {key: place(value) if isinstance(value, Path) else value for key, value in table.items()}

    database = env.get("NEWSLETTER_DATABASE") or v["storage"]["database"]
    database_url = _env_database_url(env) or v["storage"]["url"]
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
        greeting=v["content"]["greeting"],
        cta_label=v["cta"]["label"],
        cta_url=v["cta"]["url"],
        unsubscribe_mailto=v["unsubscribe"]["mailto"],
        templates_dir=resolve(v["paths"]["templates"]),
        issues_dir=resolve(v["paths"]["issues"]),
        output_dir=place(v["paths"]["output"]),
        outbox_dir=place(v["paths"]["outbox"]),
        database=resolve(database),
        provider=v["provider"]["name"],
        workers=v["provider"]["workers"],
        rate_limit=v["provider"]["rate_limit"],
        providers={name: resolve_paths(table) for name, table in v["providers"].items()},
        checks={key: value for key, value in v["checks"].items() if value is not None},
        topics={tag.strip().lower(): label.strip() for tag, label in v["topics"].items()},
        signup=Signup(**v["signup"]),
        busy_timeout=v["storage"]["busy_timeout_seconds"],
        database_url=database_url,
    )


def _env_database_url(env: Mapping[str, str]) -> str | None:
    """NEWSLETTER_DATABASE_URL, which may carry the password (the environment is where secrets go)."""
    from .storage_url import BadURL, check_url

    value = env.get("NEWSLETTER_DATABASE_URL", "").strip()
    if not value:
        return None
    try:
        return check_url(value, password_allowed=True)
    except BadURL as err:
        raise ConfigError(f"environment: NEWSLETTER_DATABASE_URL: {err}", hint="export NEWSLETTER_DATABASE_URL=postgresql://user@host:5432/database (or unset it to use SQLite).") from None


def secret(name: str, env: Mapping[str, str] | None = None, *, purpose: str) -> str:
    """Read a secret from the environment; its value is never put in a message."""
    value = (os.environ if env is None else env).get(name, "")
    if not value:
        raise ConfigError(f"environment: {name} is not set ({purpose})", hint=f"export {name}=... before running.")
    return value
