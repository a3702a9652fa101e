"""Files given to ``subscribers import`` that are not CSV text: a spreadsheet saved in its own
format (.xlsx, .xls, .numbers, .ods), a Word document or a ZIP archive. Told by their first bytes,
never by the name alone (a renamed file is common), so the writer hears "save it as CSV UTF-8"
instead of "no email column (columns: PK binary)".
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..errors import SubscriberError

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a ZIP file; an empty one
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Microsoft's Compound File: .xls, .doc
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

HOW_TO_SAVE = {
    "Excel": "In Excel: File > Save As, File Format: CSV UTF-8 (Comma delimited) (.csv); then import the .csv file.",
    "Numbers": "In Numbers: File > Export To > CSV..., Text Encoding: Unicode (UTF-8); then import the .csv file.",
    "LibreOffice": "In LibreOffice Calc: File > Save As, File type: Text CSV (.csv), Character set: Unicode (UTF-8); then import the .csv file.",
}
LABELS = {"Excel": "Excel", "Excel 97-2003": "Excel 97-2003", "Numbers": "Numbers", "LibreOffice": "OpenDocument"}
WORD_HINT = "Export the list from the tool that holds it as CSV, or paste it into a spreadsheet and save that as CSV UTF-8."


def refuse_package(path: Path) -> None:
    """A macOS Numbers document can be a folder (a package): say what it is."""
    if path.is_dir() and (path.suffix.lower() == ".numbers" or (path / "Index.zip").exists() or (path / "Index").is_dir()):
        raise _spreadsheet(path, "Numbers", "Numbers")


def refuse_non_csv(path: Path, data: bytes) -> None:
    """Raise a SubscriberError naming what the file is when its bytes say it is not text."""
    if data.startswith(ZIP_MAGIC):
        kind = _zip_kind(data, path.suffix.lower())
    elif data.startswith(OLE2_MAGIC):
        kind = _ole2_kind(data, path.suffix.lower())
    else:
        return
    if kind in LABELS:
        raise _spreadsheet(path, LABELS[kind], "Excel" if kind == "Excel 97-2003" else kind)
    if kind == "Word":
        raise SubscriberError(f"{path}: this is a Word document, not a CSV file", hint=WORD_HINT)
    raise SubscriberError(f"{path}: this is a ZIP archive, not a CSV file", hint="Unzip it and import the .csv file inside.")


def _spreadsheet(path: Path, what: str, app: str) -> SubscriberError:
    return SubscriberError(f"{path}: this is a spreadsheet ({what}), not CSV text: save it as CSV UTF-8 and import that", hint=HOW_TO_SAVE[app])


def _zip_kind(data: bytes, suffix: str) -> str:
    """Excel, Numbers, LibreOffice, Word or ZIP, from the archive's member names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, NotImplementedError):
        names, mimetype = [], b""  # damaged or encrypted: the name is all there is to go on
    if any(n.startswith("xl/") for n in names) or (not names and suffix in (".xlsx", ".xlsm", ".xlsb")):
        return "Excel"
    if mimetype.startswith(ODS_MIMETYPE) or (not names and suffix == ".ods"):
        return "LibreOffice"
    if any(n.startswith("Index/") or n == "Index.zip" for n in names) or (not names and suffix == ".numbers"):
        return "Numbers"
    if any(n.startswith("word/") for n in names) or (not names and suffix == ".docx"):
        return "Word"
    return "ZIP"


def _ole2_kind(data: bytes, suffix: str) -> str:
    """An old Office file: its directory names its streams in UTF-16 ('Workbook' in .xls)."""
    if "WordDocument".encode("utf-16-le") in data or suffix == ".doc":
        return "Word"
    return "Excel 97-2003"  # 'Workbook' / 'Book' streams, or an OLE2 file we cannot tell: most likely .xls
