"""The clinic's public site: unsubscribe, preferences, sign-up, the archive and provider webhooks.

For production, run ``uvicorn newsletter.web:app`` (or gunicorn with uvicorn workers) behind the
reverse proxy; ``app`` is built on first use from ``NEWSLETTER_CONFIG`` or the newsletter.toml
found from the current folder, with secrets from the environment.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from ..config import find_config, load_settings
        from .app import create_app

        app = create_app(load_settings(find_config()))
        globals()["app"] = app  # built once per process
        return app
    raise AttributeError(name)
