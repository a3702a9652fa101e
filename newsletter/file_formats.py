"""What a file saved by an office program is, told by its first bytes, never by its name alone
(a renamed file is common): so a spreadsheet given to ``subscribers import`` or a Word document
given to ``build`` is named, with how to save it as text, instead of failing on its bytes."""

from __future__ import annotations

import io
import zipfile

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a ZIP file; an empty one
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Microsoft's Compound File: .xls, .doc
OPENDOCUMENT = {b"application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet", b"application/vnd.oasis.opendocument.text": "OpenDocument text"}
SPREADSHEETS = ("Excel", "Excel 97-2003", "Numbers", "OpenDocument spreadsheet")


def office_format(data: bytes, suffix: str) -> str | None:
    """'Excel', 'Excel 97-2003', 'Numbers', 'Pages', 'OpenDocument spreadsheet', 'OpenDocument
    text', 'Word', 'Word 97-2003', 'RTF', 'PDF' or 'ZIP'; None for anything else (text)."""
    suffix = suffix.lower()
    if data.startswith(ZIP_MAGIC):
        return _zip_format(data, suffix)
    if data.startswith(OLE2_MAGIC):  # its directory names its streams in UTF-16
        return "Word 97-2003" if "WordDocument".encode("utf-16-le") in data or suffix == ".doc" else "Excel 97-2003"
    if data.startswith(b"{\\rtf"):
        return "RTF"  # TextEdit's and WordPad's default
    if data.startswith(b"%PDF-"):
        return "PDF"
    return None


def iwork_package(is_dir: bool, suffix: str, has_index: bool) -> str | None:
    """A Pages or Numbers document saved as a macOS package (a folder with Index/ inside)."""
    if not is_dir or not (has_index or suffix.lower() in (".numbers", ".pages")):
        return None
    return "Pages" if suffix.lower() == ".pages" else "Numbers"


def _zip_format(data: bytes, suffix: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype")[:100].strip() if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, NotImplementedError):
        names, mimetype = [], b""  # damaged or encrypted: the name is all there is to go on
    by_suffix = {".xlsx": "Excel", ".xlsm": "Excel", ".xlsb": "Excel", ".ods": "OpenDocument spreadsheet", ".odt": "OpenDocument text", ".numbers": "Numbers", ".pages": "Pages", ".docx": "Word"}
    if any(n.startswith("xl/") for n in names):
        return "Excel"
    if any(n.startswith("word/") for n in names):
        return "Word"
    if mimetype in OPENDOCUMENT:
        return OPENDOCUMENT[mimetype]
    if any(n.startswith("Index/") or n == "Index.zip" for n in names):  # iWork: Pages and Numbers alike
        return "Pages" if suffix == ".pages" else "Numbers"
    return by_suffix.get(suffix, "ZIP") if not names else "ZIP"
