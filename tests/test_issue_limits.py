"""Hostile or broken issue files (issue 9, item 2): every one is a clean IssueError with its
location, through the library and through `newsletter build` / `newsletter check`, never a
traceback, a runaway process or template syntax in the email."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from newsletter.build.front_matter import MAX_DEPTH, MAX_FRONT_MATTER_BYTES
from newsletter.build.issue import MAX_FILE_BYTES, MAX_SLUG, load_issue
from newsletter.build.pipeline import build_issue
from newsletter.errors import IssueError, TemplateError

HEAD = "---\ntitle: A title\nsubject: A subject\npreheader: A preheader that says what is inside.\ndate: 2026-11-26\n"
BODY = "Hello {{ first_name }}, one paragraph.\n"
BODY_LINE = 7  # HEAD is lines 1-5 and the closing --- line 6 (when no lines are added)

LETTERS = "abcdefghi"
# 9 levels of 9 aliases: 9**9 (387 million) strings once expanded, from under 400 bytes.
ALIAS_BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{new}: &{new} [{', '.join(['*' + old] * 9)}]\n" for old, new in zip(LETTERS, LETTERS[1:], strict=False)
)
DEEP_LIST = "tags: " + "[" * 1000 + "]" * 1000 + "\n"
LONG_SLUG = "slug: " + "a" * 300 + "\n"
HOSTILE = {"alias bomb": ALIAS_BOMB, "1,000-deep list": DEEP_LIST, "300-character slug": LONG_SLUG}


def issue(folder: Path, extra: str = "", body: str = BODY, name: str = "2026-11-test.md") -> Path:
    path = folder / "issues" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + extra + "---\n" + body, encoding="utf-8")
    return path


def error(path: Path) -> IssueError:
    with pytest.raises(IssueError) as info:
        load_issue(path)
    assert info.value.hint
    return info.value


# --- front matter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "line", "what"),
    [
        (ALIAS_BOMB, 6, "front matter: YAML anchors and aliases (&name, *name) are not allowed"),
        ("title2: *x\n", 6, "front matter: YAML anchors and aliases"),
        ("slug: !!python/object:os.system x\n", 6, "front matter: YAML tags (tag:yaml.org,2002:python/object"),
        (DEEP_LIST, 6, f"front matter: values nested more than {MAX_DEPTH} deep"),
        ("tags: " + "{a: " * 20 + "b" + "}" * 20 + "\n", 6, f"front matter: values nested more than {MAX_DEPTH} deep"),
        ("? [a, b]\n: c\n", 6, "front matter: a key must be a word"),
        ("tags: [a]\n--- x\n", 7, "front matter: a second YAML document"),
        ('reviewed_by: "a\\0b"\n', 6, "front matter: 'reviewed_by' contains a control character U+0000 (NUL)"),
    ],
    ids=["alias bomb", "alias", "tag", "deep list", "deep mapping", "complex key", "two documents", "NUL in a value"],
)
def test_front_matter_is_refused_before_anything_is_expanded(tmp_path: Path, extra: str, line: int, what: str) -> None:
    path = issue(tmp_path, extra)
    message = error(path).message
    assert message.startswith(f"{path}:{line}: {what}"), message


def test_nesting_up_to_the_limit_is_read_and_type_checked(tmp_path: Path) -> None:
    inside = "[" * (MAX_DEPTH - 1) + "a" + "]" * (MAX_DEPTH - 1)  # the mapping is depth 1
    assert "'tags' must be a list of names" in error(issue(tmp_path, f"tags: {inside}\n")).message


def test_size_limits(tmp_path: Path) -> None:
    path = issue(tmp_path, "# " + "x" * MAX_FRONT_MATTER_BYTES + "\n")
    message = error(path).message
    assert message.startswith(f"{path}:1: front matter is ") and message.endswith(" bytes; at most 65,536 are read")
    path = issue(tmp_path, body=BODY + "word " * (MAX_FILE_BYTES // 5))
    assert error(path).message == f"{path}: the issue file is over 2 MB"


@pytest.mark.parametrize(
    ("extra", "name", "what"),
    [
        (LONG_SLUG, "x.md", f"slug '{'a' * 40}...' is 300 characters; at most {MAX_SLUG} are allowed"),
        ("slug: " + "a" * (MAX_SLUG + 1) + "\n", "x.md", f"is {MAX_SLUG + 1} characters"),
        ("", "a" * 100 + ".md", "slug '" + "a" * 40 + "...' (from the file name; set 'slug:' to choose another) is 100 characters"),
        ("", "Bad Name.md", "slug 'Bad Name' (from the file name"),
    ],
)
def test_slugs_are_bounded_and_validated(tmp_path: Path, extra: str, name: str, what: str) -> None:
    assert what in error(issue(tmp_path, extra, name=name)).message
    ok = load_issue(issue(tmp_path, "slug: " + "a" * MAX_SLUG + "\n"))
    assert ok.slug == "a" * MAX_SLUG


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ('title: "x\\fy"\n', "'title' contains a control character U+000C (form feed)"),
        ('subject: "Hi \\e[31m"\n', "'subject' contains a control character U+001B (escape)"),
        ('preheader: "a\\u2028b"\n', "'preheader' contains a control character U+2028 (line separator)"),
        ('reviewed_by: "\\ud800"\n', "'reviewed_by' contains a control character U+D800 (a lone surrogate)"),
        ("subject: " + "s" * 251 + "\n", "'subject' is 251 characters; at most 250 are allowed"),
        ("authors: [" + "a" * 201 + "]\n", "'authors' is 201 characters; at most 200"),
        ("tags: [" + ", ".join(["t"] * 51) + "]\n", "'tags' has 51 entries; at most 50"),
        ("subject: Hi {{ first_name }}\n", "'subject' contains merge field '{{ first_name }}' (merge fields are filled in the text below"),
        ("title: Hi {{ first_name },\n", "'title' contains '{{' with no matching '}}'"),
        ("preheader: a }} b\n", "'preheader' contains '}}' with no matching '{{'"),
        ("preheader: '{% if x %}'\n", "'preheader' contains template tag '{%'"),
    ],
)
def test_values_that_become_headers_are_one_bounded_line_of_plain_text(tmp_path: Path, extra: str, what: str) -> None:
    key = extra.split(":")[0]
    text = (HEAD + extra).replace(f"{key}: A ", f"old_{key}: ") if key in ("title", "subject", "preheader") else HEAD + extra
    text = "\n".join(line for line in text.splitlines() if not line.startswith("old_")) + "\n"
    path = tmp_path / "issues" / "x.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "---\n" + BODY, encoding="utf-8")
    message = error(path).message
    assert f"front matter: {what}" in message, message


def test_error_messages_show_odd_values_escaped(tmp_path: Path) -> None:
    message = error(issue(tmp_path, 'status: "\\ud800\\x1b[2J"\n')).message
    assert "status '\\ud800\\x1b[2J' is not one of" in message
    message = error(issue(tmp_path, '"ke\\x07y": 1\n')).message
    assert "unknown key 'ke\\x07y'" in message


# --- the body ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "column", "what"),
    [
        ("Line one.\nAnn\x0cSmith pasted from a PDF.\n", 1, 4, "control character U+000C (form feed)"),
        ("One.\n\nTwo \x00 three.\n", 2, 5, "control character U+0000 (NUL)"),
        ("\x1b[31mred\n", 0, 1, "control character U+001B (escape)"),
        ("Text\x0bmore\n", 0, 5, "control character U+000B (vertical tab)"),
        ("Hi {{ first_name },\nmore.\n", 0, 4, "'{{' with no matching '}}' (a malformed merge field)"),
        ("Fine {{ first_name }}.\n\nA lone {{ here.\n", 2, 8, "'{{' with no matching '}}'"),
        ("Closing only }} here.\n", 0, 14, "'}}' with no matching '{{'"),
        ("{% if first_name %}Hello{% endif %}\n", 0, 1, "template tag '{%'"),
        ("- item\n- [link]({{ webview_url }) x\n", 1, 10, "'{{' with no matching '}}'"),
    ],
)
def test_body_problems_are_reported_at_line_and_column(tmp_path: Path, body: str, line: int, column: int, what: str) -> None:
    path = issue(tmp_path, body=body)
    err = error(path)
    assert err.message.startswith(f"{path}:{BODY_LINE + line}:{column}: {what}"), err.message
    if "merge" in what:
        assert "first_name, unsubscribe_url, webview_url, preferences_url" in err.hint


def test_tabs_crlf_and_good_merge_fields_are_fine(project: Path, settings) -> None:
    body = "Hello\t{{ first_name }},\r\nsee [the page]({{ webview_url }}) or {{unsubscribe_url}}.\r\n"
    compiled = build_issue(issue(project, body=body), settings, project / "out").compiled
    assert "{{" not in compiled.html and "}}" not in compiled.text


def test_bad_utf8_is_reported_at_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes((HEAD + "---\nCaf").encode() + b"\xe9 au lait, na\xc3\xafve.\n")
    assert error(path).message == f"{path}:7:4: not UTF-8 text (byte 0xe9, which is é in Windows-1252)"


def test_template_syntax_from_a_template_or_the_config_never_reaches_the_email(project: Path, settings) -> None:
    footer = project / "templates" / "email.txt.j2"
    footer.write_text(footer.read_text(encoding="utf-8") + "\n{{ '{{ first_name }' }}\n", encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        build_issue(issue(project), settings, project / "out")
    assert info.value.message.startswith(f"{project / 'templates' / 'email.txt.j2'}: the compiled email shows template syntax '{{{{'")


# --- through the command line, as separate processes with a memory cap --------------------------


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    """`newsletter ...` in its own process, at most 3 GiB of address space and 10 s."""

    def cap_memory() -> None:
        limit = 3 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    script = Path(sys.executable).with_name("newsletter")
    return subprocess.run([str(script), *args], cwd=project, capture_output=True, text=True, timeout=10, preexec_fn=cap_memory)


@pytest.mark.parametrize("extra", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("command", ["build", "check"])
def test_hostile_front_matter_gives_a_clean_error_from_the_cli(project: Path, command: str, extra: str) -> None:
    path = issue(project, extra)
    done = run_cli(project, command, str(path.relative_to(project)), *(["--no-spamassassin"] if command == "check" else []))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Error" in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: issues/2026-11-test.md:6: front matter: "), done.stderr
    assert not (project / "build" / ("a" * 300)).exists()


def test_cli_prints_a_surrogate_in_a_value_escaped(project: Path) -> None:
    path = issue(project, 'status: "\\udcff"\n')
    for command in (["build"], ["check", "--no-spamassassin"]):
        done = run_cli(project, *command[:1], str(path.relative_to(project)), *command[1:])
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "Error: issues/2026-11-test.md:6: front matter: status '\\udcff' is not one of draft, ready, sent" in done.stderr


# --- newsletter.toml values that become headers ---------------------------------------------------


@pytest.mark.parametrize(
    ("table", "line", "value", "why"),
    [
        ("newsletter", 'name = "Kairos Research Notes"', '"Kairos\\r\\nBcc: x@example.org"', "it contains a line break"),
        ("newsletter", 'name = "Kairos Research Notes"', '"Kairos\\u000cNotes"', "it contains the control character U+000C"),
        ("newsletter", 'name = "Kairos Research Notes"', '"' + "n" * 201 + '"', "it is 201 characters long"),
        ("newsletter", 'name = "Kairos Research Notes"', '"  "', "it is empty"),
        ("sender", 'from_name = "Kairos Wellness Collective"', '"Kairos\\nWellness"', "it contains a line break"),
        ("content", 'first_name_fallback = "there"', '"th\\u001bere"', "it contains the control character U+001B"),
        ("cta", "label = ", '"Ask\\u2028about"', "it contains a line break"),
    ],
)
def test_config_values_that_become_headers_are_one_line(project: Path, table: str, line: str, value: str, why: str) -> None:
    from newsletter.config import load_settings
    from newsletter.errors import ConfigError

    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    key = line.split(" = ")[0]
    line = next(row for row in text.splitlines() if row.startswith(line))  # the first: the table's own
    config.write_text(text.replace(line, f"{key} = {value}", 1), encoding="utf-8")
    number = next(n for n, row in enumerate(config.read_text(encoding="utf-8").splitlines(), 1) if row.startswith(f"{key} = {value}"))
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = info.value.message
    assert message.startswith(f"newsletter.toml:{number}: [{table}] {key} = ") and message.endswith(f": must be one line of text (at most 200 characters, no control characters) ({why})"), message
    if table == "newsletter":  # the List-Id header: build and send stop with the same clean error
        done = run_cli(project, "build", "issues/2026-11-mdma-assisted-therapy.md")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"Error: newsletter.toml:{number}: [newsletter] name = "), done.stderr


# --- property-based fuzz of the loader: an Issue or an IssueError, never another exception --------

PIECES = [*"ab1:-,[]{}&*!|>'\"#% \t\\\n", "\n  ", "\x00", "\x0c", "\x1b", "\x85", "é", "\u2028", "{{", "}}", "{%", "---", "...", "? ", "- ", "&a ", "*a", "!!str "]
FRAGMENT = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
KEY_LINE = st.tuples(st.sampled_from(["title", "subject", "preheader", "date", "slug", "authors", "reviewed_by", "tags", "status", "x"]), FRAGMENT)
FRONT = st.lists(st.one_of(KEY_LINE.map(lambda kv: f"{kv[0]}: {kv[1]}"), FRAGMENT), max_size=12).map("\n".join)
MERGE_PIECES = st.sampled_from(["{{ first_name }}", "{{ webview_url }}", "[x]({{ unsubscribe_url }})", "\n\n", "- ", "# ", "> ", "`", "*", "|", "[^a]"])
BAD_PIECES = st.sampled_from(["{{ nope }}", "{{", "}}", "{%", "%}", "\x0c", "\x00"])
PRINTABLE = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40)
BODY_TEXT = st.lists(st.one_of(PRINTABLE, PRINTABLE, MERGE_PIECES, MERGE_PIECES, BAD_PIECES, st.text(max_size=3)), min_size=1, max_size=12).map("".join)
TITLE = st.one_of(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30), st.text(max_size=10))
OPTIONAL = st.sampled_from(["", "authors: [A, B]\n", "slug: a-b\n", "tags: x, y\n", "status: ready\n"])


def load_or_refuse(text: str, encoded: bytes | None = None):
    """The Issue, or None after checking the IssueError is located, hinted and printable."""
    from newsletter.cli import printable

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.md"
        path.write_bytes(encoded if encoded is not None else text.encode("utf-8"))
        try:
            return load_issue(path)
        except IssueError as err:
            assert err.message.startswith(str(path)) and err.hint
            printable(err.message)
            return None


@hypothesis_settings(max_examples=300, deadline=None, derandomize=True)
@given(front=FRONT, valid_head=st.booleans(), surrogate=st.booleans())
def test_fuzz_front_matter(front: str, valid_head: bool, surrogate: bool) -> None:
    text = (HEAD if valid_head else "---\n") + front + "\n---\n" + BODY
    # A lone surrogate written as it is gives bytes that are not UTF-8, which the loader must name.
    issue = load_or_refuse(text, text.replace("a", "\ud800", 1).encode("utf-8", "surrogatepass") if surrogate else None)
    if issue is not None:
        assert len(issue.slug) <= MAX_SLUG and all(len(v) <= 250 for v in (issue.title, issue.subject, issue.preheader))


@hypothesis_settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=TITLE, optional=OPTIONAL, body=BODY_TEXT)
def test_fuzz_values_and_body_then_render(settings, title: str, optional: str, body: str) -> None:
    """What loads also renders (or stops with a NewsletterError) and shows no template syntax."""
    from newsletter.build.issue_text import TEMPLATE_SYNTAX_RE
    from newsletter.build.render import render_issue
    from newsletter.errors import NewsletterError

    text = HEAD.replace("title: A title", "title: " + json.dumps(title)) + optional + "---\n" + body + "\n"
    issue = load_or_refuse(text)
    if issue is None:
        return
    try:
        compiled = render_issue(issue, settings)
    except NewsletterError as err:
        assert err.hint
        return
    assert not TEMPLATE_SYNTAX_RE.search(compiled.html) and not TEMPLATE_SYNTAX_RE.search(compiled.text)
