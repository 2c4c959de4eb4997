"""The one reader of the tables people import (CSV in the common encodings and dialects, XLSX), as a stream.

Both imports (customers, historical orders) read their files here. A file is never held as Python rows: the rows
come one at a time, numbered as in the file, and the reader refuses, with a message naming the row, what lies
beyond the caps of the settings (`FIDELIS_IMPORT_MAX_ROWS`, `…_MAX_COLUMNS`, `…_MAX_CELL_CHARS`). So memory does
not grow with the file: a CSV is decoded as it is read; an XLSX is read with openpyxl in read-only mode, cut to
the column cap whatever dimension it declares, after a scan of its unpacked parts that refuses a zip bomb, XML
entities and a cell too long to parse (what the XML parser would otherwise build in memory first).
"""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import IO, Any

import charset_normalizer
from django.conf import settings
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError, ImportCode

CSV_DELIMITERS = ",;\t|"
SAMPLE_BYTES = 65536
CHUNK_BYTES = 1 << 20
MB = 1 << 20
# What an XLSX may unpack to: a worksheet, the shared strings, any other part, all parts together. A worksheet of
# the row cap unpacks to about 150 MB; the shared strings are held in memory by openpyxl, hence their lower cap.
XLSX_MAX_SHEET = 320 * MB
XLSX_MAX_STRINGS = 64 * MB
XLSX_MAX_OTHER = 16 * MB
XLSX_MAX_TOTAL = 512 * MB
MAX_WARNINGS = 100
_BOM = codecs.BOM_UTF8
_SEP_LINE = re.compile(r"\s*sep\s*=\s*(.)\s*", re.IGNORECASE)
# A formula cell whose computed value was never stored (files written by programs, not by Excel).
_FORMULA_NO_VALUE = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"[^>]*>(?:<f\b[^>/]*/>|<f\b[^>]*>[^<]*</f>)'
                               rb"(?:<v\s*/>)?</c>")


# Traditional characters of the header words and choice words the imports know, as their simplified forms: a
# Taiwanese or Hong Kong file (手機, 電子郵件, 訂單編號, 支付寶) is then guessed like a mainland one.
_SIMPLIFIED = str.maketrans(
    "機電話備註郵簽標籤號碼聯絡繫動稱戶詳細單業規職興愛說類別價級週階來區縣訂編額數門時間實銷貨條優計鋪員會現購買總幣費種寶轉賬帳線網導錄齡歲體類絡",
    "机电话备注邮签标签号码联络系动称户详细单业规职兴爱说类别价级周阶来区县订编额数门时间实销货条优计铺员会现购买总币费种宝转账帐线网导录龄岁体类络")
_HEADER_NOISE = re.compile(r"[\s_\-()（）*:：]")


def header_key(text: str) -> str:
    """Return a header or choice word as the imports look it up: compatibility form, lower case, no spaces or
    punctuation, traditional characters as simplified ones."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text or "").lower()).translate(_SIMPLIFIED)


@dataclass(frozen=True)
class Limits:
    """How many data rows and columns a file may have, and how many characters a cell."""

    rows: int
    columns: int
    cell: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(rows=settings.FIDELIS_IMPORT_MAX_ROWS, columns=settings.FIDELIS_IMPORT_MAX_COLUMNS,
                   cell=settings.FIDELIS_IMPORT_MAX_CELL_CHARS)


def column_letter(index: int) -> str:
    """Return the spreadsheet name of the 0-based column index (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _letter_index(letters: bytes) -> int:
    index = 0
    for byte in letters:
        index = index * 26 + byte - 64
    return index - 1


def _too_many_rows(limits: Limits) -> DomainError:
    return DomainError(_("The file has more than %(limit)s rows (empty rows stored in the file count too): split "
                         "it into files of at most %(limit)s rows.")
                       % {"limit": f"{limits.rows:,}"}, code=ImportCode.TOO_MANY_ROWS, field="file")


def _too_many_columns(limits: Limits, row: int) -> DomainError:
    return DomainError(_("Row %(row)s has more than %(limit)s columns: delete the columns you do not import.")
                       % {"row": row, "limit": limits.columns}, code=ImportCode.TOO_MANY_COLUMNS, field="file")


def _cell_too_long(limits: Limits, row: int | None, column: str) -> DomainError:
    where = (_("Row %(row)s, column %(column)s") % {"row": row, "column": column}) if row else column
    return DomainError(_("%(where)s: a cell has more than %(limit)s characters.")
                       % {"where": where, "limit": f"{limits.cell:,}"}, code=ImportCode.CELL_TOO_LONG, field="file")


def _not_xlsx() -> DomainError:
    return DomainError(_("This is not a readable XLSX file."), code=ImportCode.NOT_XLSX, field="file")


def _not_text() -> DomainError:
    return DomainError(_("This is not a text CSV file."), code=ImportCode.NOT_TEXT, field="file")


def _bad_encoding() -> DomainError:
    return DomainError(_("The file's characters cannot be read; save it as UTF-8."), code=ImportCode.BAD_ENCODING,
                       field="file")


@dataclass
class Table:
    """A file's chosen sheet: its header row and a stream of its data rows, read within the limits.

    `rows()` yields (row number as in the file, cells as stripped text cut to the header's width), leaving blank
    rows out; `warnings` holds (row, column index, message) of cells read with a doubt, found before the rows are
    read. Use it as a context manager, or `close()` it.
    """

    kind: str  # "csv" | "xlsx"
    encoding: str
    limits: Limits
    sheets: list[str] = field(default_factory=list)
    sheet: str = ""
    headers: list[str] = field(default_factory=list)
    header_row: int = 0
    warnings: list[tuple[int, int, str]] = field(default_factory=list)
    warning_count: int = 0
    _rows: Iterator[tuple[int, Any]] | None = None
    _convert: Any = None
    _close: Any = None

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield the numbered data rows (each read once: the stream is not read again)."""
        rows, self._rows = self._rows, None
        if rows is None:
            return
        width, convert = len(self.headers), self._convert
        for number, raw in rows:
            cells = convert(number, raw, width)
            if any(cells):
                yield number, cells

    def count(self) -> int:
        """Read the remaining data rows through and return how many there are (the caps apply)."""
        return sum(1 for _row in self.rows())


def open_table(stream: IO[bytes], kind: str, *, sheet: str | None = None, limits: Limits | None = None) -> Table:
    """Return the Table of a CSV or XLSX file (`kind`), its header read; refuse (DomainError on "file") a file that
    cannot be read or lies beyond the limits. With `sheet` (XLSX), that sheet; else the first one with data."""
    limits = limits or Limits.from_settings()
    table = _open_xlsx(stream, limits, sheet) if kind == "xlsx" else _open_csv(stream, limits)
    try:
        _read_header(table)
    except BaseException:
        table.close()
        raise
    return table


def _read_header(table: Table) -> None:
    assert table._rows is not None
    limits = table.limits
    for number, raw in table._rows:
        cells = table._convert(number, raw, limits.columns + 1)
        if any(cells):
            if len(cells) > limits.columns and any(cells[limits.columns:]):
                raise _too_many_columns(limits, number)
            while cells and not cells[-1]:
                cells.pop()
            table.headers, table.header_row = cells, number
            return
    raise DomainError(_("The file has no header row."), code=ImportCode.NO_HEADER, field="file")


# ---------------------------------------------------------------------------------------------------------------
# CSV


class _NulCharacter(Exception):
    pass


def _csv_encoding(stream: IO[bytes], sample: bytes) -> str:
    """Return the encoding of the whole file: UTF-8 when all of it decodes so (checked in chunks), else the guess
    of charset-normalizer from its beginning."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(sample, cp_isolation=["gb18030", "big5", "utf_16"]).best()
        if best is None or best.encoding is None:
            raise _not_text()
        try:
            codecs.lookup(best.encoding)
        except LookupError:
            raise _bad_encoding()
        return best.encoding
    return "utf-8-sig" if sample.startswith(_BOM) else "utf-8"


def _csv_delimiter(lines: list[str]) -> str:
    """Return the delimiter of these first lines: what csv.Sniffer finds among , ; tab |, if the header has it;
    else the one the header holds most of; else a comma."""
    header = lines[0] if lines else ""
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found and found in header:
        return found
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _open_csv(stream: IO[bytes], limits: Limits) -> Table:
    stream.seek(0)
    sample = stream.read(SAMPLE_BYTES)
    if not sample:
        raise DomainError(_("The file is empty."), code=ImportCode.EMPTY, field="file")
    # Binary files hold many control bytes; a stray NUL in a text file is reported with its row below.
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if controls > len(sample) // 100:
        raise _not_text()
    encoding = _csv_encoding(stream, sample)
    complete = len(sample) < SAMPLE_BYTES
    sample_text = sample.decode(encoding, errors="replace")
    lines = sample_text.lstrip("\ufeff").splitlines()
    if not complete:
        lines = lines[:-1]  # the last may be cut short
    skip_first = False
    if lines and (match := _SEP_LINE.fullmatch(lines[0])):
        # Excel's own hint ("sep=;"), which it hides when it opens the file.
        delimiter, skip_first = match.group(1), True
    else:
        delimiter = _csv_delimiter([line for line in lines if line.strip()][:20])
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    consumed = [0]

    def lines_of_file() -> Iterator[str]:
        first = skip_first
        for line in text:
            if first:
                first = False
                continue
            consumed[0] += len(line)
            if "\x00" in line:
                raise _NulCharacter
            yield line

    reader = csv.reader(lines_of_file(), delimiter=delimiter)
    max_row = limits.rows + 1

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 0
        seen = 0
        try:
            for row in reader:
                number += 1
                if number > max_row:
                    raise _too_many_rows(limits)
                size, seen = consumed[0] - seen, consumed[0]
                if size > limits.cell:
                    for index, cell in enumerate(row):
                        if len(cell) > limits.cell:
                            raise _cell_too_long(limits, number, column_letter(index))
                yield number, row
        except _NulCharacter:
            raise DomainError(_("Row %(row)s holds a NUL character: this is not a text CSV file. Save it as CSV "
                                "again.") % {"row": number + 1}, code=ImportCode.NUL_CHARACTER, field="file")
        except UnicodeDecodeError:
            raise DomainError(_("Row %(row)s: the file's characters cannot be read; save it as UTF-8.")
                              % {"row": number + 1}, code=ImportCode.BAD_ENCODING, field="file")
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _cell_too_long(limits, number + 1, "")
            raise DomainError(_("The CSV file is malformed."), code=ImportCode.BAD_CSV, field="file")

    def convert(number: int, row: list[str], width: int) -> list[str]:
        if len(row) > limits.columns and any(row[limits.columns:]):
            raise _too_many_columns(limits, number)
        return [cell.strip() for cell in row[:width]]

    return Table(kind="csv", encoding=encoding.replace("_", "-"), limits=limits, _rows=rows(), _convert=convert,
                 _close=text.detach)


# ---------------------------------------------------------------------------------------------------------------
# XLSX


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits,
               formulas: list[tuple[int, int]] | None) -> int:
    """Read an XML part as it unpacks: refuse XML entities and a text longer than the cell cap could be; note the
    formula cells without a value (at most MAX_WARNINGS of them) and return how many there are."""
    # A cell's text is written between two tags; in UTF-8 a character takes at most 4 bytes.
    longest = 4 * limits.cell + 64
    long_text = re.compile(rb"(?<![^<])[^<]{%d}" % longest)
    tail = b""
    found: set[tuple[int, int]] = set()
    with archive.open(info) as part:
        while chunk := part.read(CHUNK_BYTES):
            buffer = tail + chunk
            if b"<!ENTITY" in buffer:
                raise DomainError(_("The workbook declares XML entities, which are not allowed: save it again in "
                                    "Excel."), code=ImportCode.XML_ENTITIES, field="file")
            if long_text.search(buffer):
                raise _cell_too_long(limits, None, info.filename)
            if formulas is not None and (b"</f></c>" in buffer or b"/></c>" in buffer):
                for match in _FORMULA_NO_VALUE.finditer(buffer):
                    cell = (int(match.group(2)), _letter_index(match.group(1)))
                    if cell not in found:
                        found.add(cell)
                        if len(formulas) < MAX_WARNINGS:
                            formulas.append(cell)
            tail = buffer[-longest:]
    return len(found)


def _xlsx_guard(stream: IO[bytes], limits: Limits) -> dict[str, tuple[list[tuple[int, int]], int]]:
    """Check the parts of an XLSX before openpyxl reads it; return each worksheet's formula cells without a value."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _not_xlsx()
    formulas: dict[str, tuple[list[tuple[int, int]], int]] = {}
    with archive:
        infos = archive.infolist()
        total = 0
        for info in infos:
            name = info.filename
            limit = (XLSX_MAX_SHEET if name.startswith("xl/worksheets/") else
                     XLSX_MAX_STRINGS if name.endswith("sharedStrings.xml") else XLSX_MAX_OTHER)
            total += info.file_size
            if info.file_size > limit or total > XLSX_MAX_TOTAL:
                raise DomainError(_("The workbook unpacks to more than %(limit)s MB: save the sheet as CSV, or "
                                    "split it.") % {"limit": (limit if info.file_size > limit else
                                                              XLSX_MAX_TOTAL) // MB},
                                  code=ImportCode.TOO_LARGE, field="file")
        try:
            for info in infos:
                name = info.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    cells: list[tuple[int, int]] = []
                    count = _scan_part(archive, info, limits, cells)
                    formulas[name] = (cells, count)
                elif name.endswith(".xml") or name.endswith(".rels"):
                    _scan_part(archive, info, limits, None)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
            raise _not_xlsx()
    return formulas


def xlsx_value(value: Any) -> str:
    """Return a cell's value as the text an import reads (dates as ISO dates, 13800138000.0 as 13800138000)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time.min else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet_rows(worksheet, limits: Limits) -> Iterator[tuple[int, tuple]]:
    # The declared dimension is not trusted: rows come as stored, cut one past the column cap.
    worksheet.reset_dimensions()
    max_row = limits.rows + 1
    for number, row in enumerate(worksheet.iter_rows(max_col=limits.columns + 1, values_only=True), start=1):
        if number > max_row:
            # Even if empty: reading a million stored empty rows takes a worker as long as reading data.
            raise _too_many_rows(limits)
        yield number, row


def _open_xlsx(stream: IO[bytes], limits: Limits, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    formulas = _xlsx_guard(stream, limits)
    stream.seek(0)
    # openpyxl raises whatever its parsers meet in a malformed part (KeyError, TypeError, IndexError, defusedxml's
    # refusals, ParseError, …): each is a file that cannot be read, not a fault of ours.
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception:
        raise _not_xlsx()
    try:
        worksheets = workbook.worksheets
        names = [ws.title for ws in worksheets]
        if sheet:
            if sheet not in names:
                raise DomainError(_("The workbook has no sheet named “%(sheet)s”.") % {"sheet": sheet},
                                  code=ImportCode.NO_SHEET, field="sheet")
            chosen = worksheets[names.index(sheet)]
        else:
            chosen = next((ws for ws in worksheets if _has_data(ws, limits)), worksheets[0] if worksheets else None)
        if chosen is None:
            raise DomainError(_("The file has no header row."), code=ImportCode.NO_HEADER, field="file")
    except DomainError:
        workbook.close()
        raise
    except Exception:
        workbook.close()
        raise _not_xlsx()
    cells, count = formulas.get(getattr(chosen, "_worksheet_path", ""), ([], 0))
    cell_limit = limits.cell

    def convert(number: int, row: tuple, width: int) -> list[str]:
        if len(row) > limits.columns and row[limits.columns] is not None:
            raise _too_many_columns(limits, number)
        cells = []
        for index, value in enumerate(row[:width]):
            text = xlsx_value(value)
            if len(text) > cell_limit:
                raise _cell_too_long(limits, number, column_letter(index))
            cells.append(text)
        return cells

    def rows() -> Iterator[tuple[int, tuple]]:
        try:
            yield from _sheet_rows(chosen, limits)
        except DomainError:
            raise
        except Exception:
            raise _not_xlsx()

    message = _("A formula without a computed value is read as empty: open the file in Excel and save it again.")
    return Table(kind="xlsx", encoding="xlsx", limits=limits, sheets=names, sheet=chosen.title,
                 warnings=[(row, column, message) for row, column in sorted(cells)], warning_count=count,
                 _rows=rows(), _convert=convert, _close=workbook.close)


def _has_data(worksheet, limits: Limits) -> bool:
    """Return whether the worksheet has a cell with a value within the row cap."""
    try:
        return any(any(value is not None and value != "" for value in row)
                   for _number, row in _sheet_rows(worksheet, limits))
    except DomainError:
        return True  # it has data: reading it says what is wrong with it
