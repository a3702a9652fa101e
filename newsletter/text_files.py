"""Text files saved by other programs (issue files, subscriber CSV): where a file stops being
UTF-8, told as line and column, and what the byte most likely was (Word, Notepad and Excel on
Windows write Windows-1252, where 0x93 is a curly quote), so the writer can find it."""

from __future__ import annotations

# How to save a text file as UTF-8 again, in the editors an issue is most often written in.
RESAVE_TEXT_HINT = (
    "Save it again as UTF-8: Notepad: File > Save As, Encoding: UTF-8; TextEdit: Format > Make Plain Text, "
    "then File > Save, Plain Text Encoding: Unicode (UTF-8); Word: File > Save As, Plain Text (.txt), "
    "Encoding: Unicode (UTF-8); VS Code: click the encoding in the status bar > Save with Encoding > UTF-8."
)


def byte_line_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and character column of a byte offset (the characters before it decoded)."""
    start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[start:offset].decode("utf-8", "replace")) + 1


def byte_described(data: bytes, offset: int) -> str:
    """'byte 0x93, which is “ in Windows-1252' (or only the byte when Windows-1252 has no character there)."""
    byte = data[offset : offset + 1]
    try:
        character = byte.decode("cp1252")
    except UnicodeDecodeError:
        return f"byte 0x{byte[0]:02x}"
    return f"byte 0x{byte[0]:02x}, which is {character} in Windows-1252" if character.isprintable() else f"byte 0x{byte[0]:02x}"
