"""Sign-off tied to the content (issue 13, item 2): `newsletter approve`, the refusal of an
unapproved or changed issue by a real provider, "Reviewed by" from the approval, test sends.
Real SQLite, the CLI through CliRunner, the fake Postmark server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REVIEWER, SAMPLE_ISSUE, add_readers, approve
from fakes.postmark import FakePostmark
from newsletter.build.issue import load_issue
from newsletter.cli import app
from newsletter.config import load_settings
from newsletter.errors import SendError
from newsletter.send.approval import approval_state, require_approval
from newsletter.store import approvals
from newsletter.store.db import open_store

TOKEN = "approval-token-7"
SLUG = "2026-11-mdma-assisted-therapy"


@pytest.fixture
def people(settings):
    add_readers(settings, 3, prefix="r")


@pytest.fixture
def postmark(project: Path, monkeypatch):
    monkeypatch.setenv("POSTMARK_SERVER_TOKEN", TOKEN)
    with FakePostmark(token=TOKEN) as fake:
        config = project / "newsletter.toml"
        text = config.read_text().replace('base_url = "https://api.postmarkapp.com"', f'base_url = "{fake.url}"\nreconcile_grace_seconds = 0\ntimeout = [1, 1]')
        config.write_text(text.replace('name = "outbox"', 'name = "postmark"'))
        yield fake


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def history(project: Path):
    conn = open_store(load_settings(project / "newsletter.toml"))
    try:
        return approvals.history(conn, SLUG)
    finally:
        conn.close()


def edit(project: Path, old: str, new: str, file: str = SAMPLE_ISSUE) -> None:
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def set_key(project: Path, key: str, value: str) -> None:
    """Replace one front-matter line of the sample issue, whatever it says now."""
    path = project / SAMPLE_ISSUE
    text, found = re.subn(rf"^{key}: .*$", f"{key}: {value}", path.read_text(encoding="utf-8"), count=1, flags=re.M)
    if not found:  # not in the front matter yet: add it before the closing ---
        text = re.sub(r"\n---\n", f"\n{key}: {value}\n---\n", text, count=1)
    path.write_text(text, encoding="utf-8")


# --- the acceptance: through a real provider ---------------------------------------------------


def test_unapproved_is_refused_approved_sends_and_reviewed_by_comes_from_the_approval(project, people, postmark):
    set_key(project, "reviewed_by", '"Clinical review pending"')  # what the November issue once said
    refused = invoke("send", SAMPLE_ISSUE, "--yes")
    assert refused.exit_code == 1
    assert re.search(r"Error: issues/2026-11-mdma-assisted-therapy\.md: not approved", refused.output)
    assert "Hint:" in refused.output and "newsletter approve issues/2026-11-mdma-assisted-therapy.md --reviewer" in refused.output
    assert postmark.requests == [] and postmark.messages == []  # not even the suppression sync

    approved = invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER)
    assert approved.exit_code == 0, approved.output
    assert f"by {REVIEWER}" in approved.output

    sent = invoke("send", SAMPLE_ISSUE, "--yes")
    assert sent.exit_code == 0, sent.output
    assert sorted(postmark.per_recipient) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    for message in postmark.messages:
        assert f"Reviewed by {REVIEWER}." in message["HtmlBody"]
        text = " ".join(message["TextBody"].split())
        assert f"Reviewed by {REVIEWER}." in text and "pending" not in text  # the front matter says "Clinical review pending"


def test_an_approved_issue_edited_by_one_word_is_refused_and_nothing_is_sent(project, people, postmark):
    assert invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER).exit_code == 0
    edit(project, "randomized 90 adults", "randomized 91 adults")
    line = next(n for n, text in enumerate((project / SAMPLE_ISSUE).read_text().splitlines(), 1) if "randomized 91 adults" in text)

    refused = invoke("send", SAMPLE_ISSUE, "--yes")
    assert refused.exit_code == 1
    assert f"Error: {SAMPLE_ISSUE}:{line}: changed since {REVIEWER} approved it" in refused.output
    assert f"the body (from line {line})" in refused.output
    assert "Hint:" in refused.output and "newsletter approve" in refused.output
    assert postmark.requests == [] and postmark.messages == []

    assert invoke("approve", SAMPLE_ISSUE, "--reviewer", "Dr. B. Chen").exit_code == 0
    assert invoke("send", SAMPLE_ISSUE, "--yes").exit_code == 0
    assert len(postmark.messages) == 3 and all("Reviewed by Dr. B. Chen." in m["HtmlBody"] for m in postmark.messages)
    assert [a.reviewer for a in history(project)] == [REVIEWER, "Dr. B. Chen"]


# --- what the hash covers ------------------------------------------------------------------------


def refusal(settings, conn) -> str:
    state = approval_state(load_issue(Path(SAMPLE_ISSUE)), settings, conn)
    with pytest.raises(SendError) as caught:
        require_approval(state, "postmark")
    return caught.value.message


@pytest.mark.parametrize(
    ("file", "old", "new", "named"),
    [
        (SAMPLE_ISSUE, "preheader: ", 'preheader: "A new preheader for the trials, the FDA and what changed since." #', "front matter 'preheader' (line 4)"),
        ("templates/partials/footer.mjml.j2", "</mj-text>", " </mj-text>", "template partials/footer.mjml.j2"),
        ("newsletter.toml", 'primary_color = "#2f5d50"', 'primary_color = "#2f5d51"', "config [brand] primary_color"),
        ("newsletter.toml", 'label = "Talk to', 'label = "Speak with', "config [cta] label"),
    ],
    ids=["front-matter", "template", "brand", "cta"],
)
def test_a_change_anywhere_that_reaches_subscribers_names_itself(project, file, old, new, named):
    approve(load_settings(project / "newsletter.toml"))
    edit(project, old, new, file)
    settings = load_settings(project / "newsletter.toml")
    conn = open_store(settings)
    try:
        assert named in refusal(settings, conn)
    finally:
        conn.close()


def test_status_reviewed_by_and_settings_that_reach_nobody_need_no_new_approval(project):
    approve(load_settings(project / "newsletter.toml"))
    set_key(project, "status", "draft")
    set_key(project, "reviewed_by", '"Someone Else"')
    edit(project, "workers = 4", "workers = 2", "newsletter.toml")
    settings = load_settings(project / "newsletter.toml")
    conn = open_store(settings)
    try:
        state = approval_state(load_issue(Path(SAMPLE_ISSUE)), settings, conn)
        assert state.current and state.reviewer == REVIEWER
        assert require_approval(state, "postmark") is None
    finally:
        conn.close()


# --- approve's input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "TBD", "Clinical review pending", "NAME", "n/a", "-"])
def test_a_placeholder_or_empty_reviewer_is_refused_and_nothing_is_recorded(project, name):
    result = invoke("approve", SAMPLE_ISSUE, "--reviewer", name)
    assert result.exit_code == 1
    assert "Error: --reviewer:" in result.output and "Hint:" in result.output and "Traceback" not in result.output
    assert history(project) == []


def test_an_unknown_finding_id_is_refused_with_a_hint_and_a_known_one_is_recorded(project):
    unknown = invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER, "--accept", "front-matter.reviewed-bi")
    assert unknown.exit_code == 1
    assert f"Error: {SAMPLE_ISSUE}: --accept front-matter.reviewed-bi: no current finding has this id or key (did you mean 'front-matter.reviewed-by'?)" in unknown.output
    assert "Hint: Run 'newsletter check" in unknown.output
    assert history(project) == []
    known = invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER, "--accept", "front-matter.reviewed-by")
    assert known.exit_code == 0, known.output
    [approval] = history(project)
    assert approval.accepted == ("front-matter.reviewed-by",) and approval.reviewer == REVIEWER
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", approval.approved_at)


def test_an_accepted_error_no_longer_blocks_the_send_of_that_content(project, people):
    long_subject = "MDMA therapy for PTSD: the evidence in November 2026, the trials, the FDA and the open questions"
    set_key(project, "subject", f'"{long_subject}"')
    blocked = invoke("send", SAMPLE_ISSUE)
    assert blocked.exit_code == 1 and "subject.length" in blocked.output
    assert invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER, "--accept", "subject.length").exit_code == 0
    sent = invoke("send", SAMPLE_ISSUE)
    assert sent.exit_code == 0, sent.output
    assert f"subject.length  subject is {len(long_subject)} characters" in sent.output and f"(accepted by {REVIEWER})" in sent.output


def test_a_claim_is_accepted_by_its_key_only_for_that_sentence(project, people):
    edit(project, "MDMA-assisted therapy combines", "Ketamine is completely safe in our clinic. MDMA-assisted therapy combines")
    found = json.loads(invoke("check", SAMPLE_ISSUE, "--format", "json").output)
    [claim] = [f for f in found if f["id"] == "claims.safety"]
    assert claim["severity"] == "error" and claim["key"].startswith("claims:safety:")
    assert invoke("send", SAMPLE_ISSUE).exit_code == 1  # the claim blocks the send

    by_id = invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER, "--accept", "claims.safety")
    assert by_id.exit_code == 1 and "no current finding has this id or key" in by_id.output  # never a whole category
    assert "claims:<category>:<hash>" in by_id.output and history(project) == []

    assert invoke("approve", SAMPLE_ISSUE, "--reviewer", REVIEWER, "--accept", claim["key"]).exit_code == 0
    sent = invoke("send", SAMPLE_ISSUE)
    assert sent.exit_code == 0, sent.output
    assert f"(accepted by {REVIEWER})" in sent.output

    edit(project, "completely safe in our clinic", "completely safe in every clinic")  # a new sentence: a new key
    again = json.loads(invoke("check", SAMPLE_ISSUE, "--format", "json").output)
    assert [f["key"] for f in again if f["id"] == "claims.safety"] != [claim["key"]]


# --- the outbox, test sends --------------------------------------------------------------------


def outbox_messages(folder: Path):
    return [message_from_bytes(p.read_bytes(), policy=default_policy) for p in sorted(folder.glob("*.eml"))]


def test_the_outbox_warns_and_its_messages_carry_no_reviewed_by_line(project, people):
    result = invoke("send", SAMPLE_ISSUE)
    assert result.exit_code == 0, result.output
    assert "approval.missing  not approved" in result.output
    [first, *_] = outbox_messages(project / "outbox" / SLUG)
    assert "Reviewed by" not in first.get_body(preferencelist=("plain",)).get_content()


def test_a_test_send_before_approval_says_so_in_its_subject(project):
    before = invoke("send", SAMPLE_ISSUE, "--test", "me@example.org")
    assert before.exit_code == 0, before.output
    [message] = outbox_messages(project / "outbox" / f"{SLUG}-test")
    assert message["Subject"].startswith("[TEST] [not approved] ")
    approve(load_settings(project / "newsletter.toml"))
    after = invoke("send", SAMPLE_ISSUE, "--test", "you@example.org")
    assert after.exit_code == 0
    subjects = sorted(m["Subject"] for m in outbox_messages(project / "outbox" / f"{SLUG}-test"))
    assert any(s.startswith("[TEST] MDMA") for s in subjects)
    approved = next(m for m in outbox_messages(project / "outbox" / f"{SLUG}-test") if "[not approved]" not in m["Subject"])
    assert f"Reviewed by {REVIEWER}." in " ".join(approved.get_body(preferencelist=("plain",)).get_content().split())


# --- the store --------------------------------------------------------------------------------


def test_the_web_version_says_reviewed_by_the_approval_never_the_front_matter(project, settings):
    from newsletter.web.archive_pages import write_archive

    set_key(project, "reviewed_by", '"Dr. Not Asked"')
    conn = open_store(settings)
    try:
        page = project / "site" / "issues" / SLUG / "index.html"
        write_archive(settings, conn, project / "site", include_drafts=True)
        assert "Reviewed by" not in page.read_text()  # no approval: no such line
        approve(settings)
        write_archive(settings, conn, project / "site", include_drafts=True)
        text = page.read_text()
        assert f"Reviewed by {REVIEWER}." in text and "Not Asked" not in text
    finally:
        conn.close()


def test_status_shows_the_approval_and_whether_it_matches_the_current_content(project, people):
    before = invoke("status", SAMPLE_ISSUE)
    assert f'Approval  none: a real send needs newsletter approve {SAMPLE_ISSUE} --reviewer "NAME"' in before.output
    assert "has not been sent yet" in before.output  # and the ledger's part says so, as before
    approve(load_settings(project / "newsletter.toml"))
    assert invoke("send", SAMPLE_ISSUE).exit_code == 0
    now = invoke("status", SAMPLE_ISSUE)
    assert now.exit_code == 0, now.output
    assert re.search(rf"^Approval  {re.escape(REVIEWER)} at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d .*: matches the current content$", now.output, re.M), now.output
    edit(project, "randomized 90 adults", "randomized 91 adults")
    changed = invoke("status", SAMPLE_ISSUE)
    assert "changed since: the body (from line" in changed.output and "refused until it is approved again" in changed.output
