"""``newsletter build``: write the sample recipient's email.html, email.txt and email.eml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..files import atomic_write, real_folder
from ..mime import to_bytes
from ..models import CompiledIssue, OutgoingMessage, Recipient
from .issue import load_issue
from .personalize import Personalizer
from .render import render_issue

SAMPLE_RECIPIENT = Recipient(subscriber_id=1, email="reader@example.org", first_name="Alex")
# The sample's unsubscribe link is signed with this unless NEWSLETTER_SECRET is set; it is a
# preview, not a message anybody receives.
PREVIEW_SECRET = b"newsletter-build-preview"


@dataclass(frozen=True)
class BuildOutput:
    compiled: CompiledIssue
    message: OutgoingMessage
    files: tuple[tuple[Path, int], ...]  # (path, size in bytes)


def compile_issue(issue_path: Path, settings: Settings) -> CompiledIssue:
    return render_issue(load_issue(issue_path), settings)


def sample_message(compiled: CompiledIssue, settings: Settings) -> OutgoingMessage:
    secret = os.environ.get("NEWSLETTER_SECRET", "").encode() or PREVIEW_SECRET
    return Personalizer(compiled, settings, secret).message(SAMPLE_RECIPIENT)


def build_issue(issue_path: Path, settings: Settings, out_dir: Path | None = None) -> BuildOutput:
    compiled = compile_issue(issue_path, settings)
    message = sample_message(compiled, settings)
    root = real_folder(out_dir or settings.output_dir, "the build folder")
    folder = real_folder(root / compiled.issue.slug, "the issue's build folder")
    contents = {
        "email.html": message.html.encode("utf-8"),
        "email.txt": message.text.encode("utf-8"),
        "email.eml": to_bytes(message),
    }
    files = []
    for name, data in contents.items():
        path = folder / name
        with atomic_write(path, durable=False) as out:  # regenerable: no fsync (3 of them per build)
            out.write(data)
        files.append((path, len(data)))
    return BuildOutput(compiled=compiled, message=message, files=tuple(files))
