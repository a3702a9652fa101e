"""Files given to ``subscribers import`` that are not CSV text (``file_formats.py`` tells what
they are): a spreadsheet in its own format (.xlsx, .xls, .numbers, .ods) is named with how to save
it as CSV UTF-8 in that program, instead of "no email column (columns: PK binary)"."""

from __future__ import annotations

from pathlib import Path

from ..errors import SubscriberError
from ..file_formats import SPREADSHEETS, iwork_package, office_format

HOW_TO_SAVE = {
    "Excel": "In Excel: File > Save As, File Format: CSV UTF-8 (Comma delimited) (.csv); then import the .csv file.",
    "Numbers": "In Numbers: File > Export To > CSV..., Text Encoding: Unicode (UTF-8); then import the .csv file.",
    "OpenDocument spreadsheet": "In LibreOffice Calc: File > Save As, File type: Text CSV (.csv), Character set: Unicode (UTF-8); then import the .csv file.",
}
LABELS = {"OpenDocument spreadsheet": "OpenDocument"}
NOT_A_LIST_HINT = "Export the list from the tool that holds it as CSV, or paste it into a spreadsheet and save that as CSV UTF-8."


def refuse_package(path: Path) -> None:
    """A macOS Numbers document can be a folder (a package): say what it is."""
    if iwork_package(path.is_dir(), path.suffix, (path / "Index").is_dir() or (path / "Index.zip").exists()):
        raise _spreadsheet(path, "Numbers")


def refuse_non_csv(path: Path, data: bytes) -> None:
    """Raise a SubscriberError naming what the file is when its bytes say it is not text."""
    kind = office_format(data, path.suffix)
    if kind is None:
        return
    if kind in SPREADSHEETS:
        raise _spreadsheet(path, kind)
    if kind == "ZIP":
        raise SubscriberError(f"{path}: this is a ZIP archive, not a CSV file", hint="Unzip it and import the .csv file inside.")
    what = "a Word document" if kind.startswith("Word") else f"a {kind} document" if kind != "PDF" else "a PDF"
    raise SubscriberError(f"{path}: this is {what}, not a CSV file", hint=NOT_A_LIST_HINT)


def _spreadsheet(path: Path, kind: str) -> SubscriberError:
    hint = HOW_TO_SAVE["Excel" if kind.startswith("Excel") else kind]
    return SubscriberError(f"{path}: this is a spreadsheet ({LABELS.get(kind, kind)}), not CSV text: save it as CSV UTF-8 and import that", hint=hint)
