"""The import framework both imports use (customers, historical orders): reading an upload within the limits,
the job's sheet and its status and mode, the first errors and duplicate hints of its report, and the rows a check
stores for the run."""

import hashlib
import heapq
import io
import json
import marshal
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.core.errors import DomainError, ImportCode
from fidelis.core.tabular import Table, column_letter, open_table


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", gettext_lazy("Uploaded")
    VALIDATED = "validated", gettext_lazy("Checked")
    IMPORTED = "imported", gettext_lazy("Imported")
    FAILED = "failed", gettext_lazy("Failed")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all", gettext_lazy("Import nothing if any row is bad")
    SKIP_BAD = "skip", gettext_lazy("Import the good rows, skip the bad ones")


MAX_REPORTED_ERRORS = 1000


TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}


XLSX_SUFFIXES = {".xlsx", ".xlsm"}


def _check_upload(name: str, size: int) -> str:
    limit = settings.FIDELIS_IMPORT_MAX_BYTES
    if size > limit:
        raise DomainError(_("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
                          % {"size": round(size / 1048576, 1), "limit": round(limit / 1048576, 1)},
                          code=ImportCode.TOO_LARGE, field="file")
    suffix = Path(name or "").suffix.lower()
    if suffix not in TEXT_SUFFIXES | XLSX_SUFFIXES:
        raise DomainError(_("Upload a CSV or XLSX file."), code=ImportCode.INVALID_FORMAT, field="file")
    if size == 0:
        raise DomainError(_("The file is empty."), code=ImportCode.EMPTY, field="file")
    return "xlsx" if suffix in XLSX_SUFFIXES else "csv"


def file_kind(name: str) -> str:
    """Return how a file of this name is read: "xlsx" or "csv"."""
    return "xlsx" if Path(name or "").suffix.lower() in XLSX_SUFFIXES else "csv"


def job_data(job) -> bytes:
    """Return the bytes of the job's uploaded file."""
    job.file.open("rb")
    try:
        return job.file.read()
    finally:
        job.file.close()


def job_table(job, data: bytes) -> Table:
    """Return the Table of the job's file (customer or order import): its chosen sheet, to read as a stream."""
    return open_table(io.BytesIO(data), file_kind(job.file_name), sheet=job.sheet or None)


def warnings_report(table: Table) -> list[dict[str, Any]]:
    """Return the table's warnings as report entries (row, column, message), the column named by its header."""
    headers = table.headers
    return [{"row": row, "column": headers[column] if column < len(headers) and headers[column]
             else column_letter(column), "message": str(message)} for row, column, message in table.warnings]


@dataclass
class Upload:
    """What an upload holds: its name, bytes, encoding, header, number of data rows, sheets and chosen sheet."""

    name: str
    data: bytes
    encoding: str
    headers: list[str]
    rows: int
    sheets: list[str]
    sheet: str


def read_table(name: str, data: bytes, sheet: str | None = None) -> Upload:
    """Read a whole file (or one sheet of it) within the limits; refuse (DomainError) one without data rows."""
    with open_table(io.BytesIO(data), file_kind(name), sheet=sheet) as table:
        rows = table.count()
    if not rows:
        raise DomainError(_("The file has a header row but no data rows."), code=ImportCode.NO_ROWS, field="file")
    return Upload(name, data, table.encoding, table.headers, rows, table.sheets, table.sheet)


def read_upload(uploaded_file, default_name: str) -> Upload:
    """Check and read an uploaded CSV/XLSX file: the first sheet with data, unless the user chooses another.

    Refuses (DomainError on "file") a file too large, of another kind, unreadable, beyond the limits of rows,
    columns and cell length, or without data rows.
    """
    name = Path(getattr(uploaded_file, "name", "") or default_name).name[:200]
    size = getattr(uploaded_file, "size", None)
    _check_upload(name, size if size is not None else 0)
    data = uploaded_file.read(settings.FIDELIS_IMPORT_MAX_BYTES + 1)
    _check_upload(name, len(data))
    return read_table(name, data)


def sheet_read(job, sheet: str) -> Upload:
    """Read the sheet of the job's workbook (customer or order import) that the user chose.

    Refuses (DomainError on "sheet") a name that is not one of the workbook's sheets, and a sheet that cannot be
    imported (no header, no data rows, beyond the limits), with the reason.
    """
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code=ImportCode.ALREADY_IMPORTED)
    if not sheet or sheet not in job.sheets:
        raise DomainError(_("The workbook has no sheet named “%(sheet)s”.") % {"sheet": sheet[:100]},
                          code=ImportCode.NO_SHEET, field="sheet")
    try:
        return read_table(job.file_name, job_data(job), sheet)
    except DomainError as exc:
        raise DomainError(_("Sheet “%(sheet)s”: %(reason)s") % {"sheet": sheet, "reason": exc.message},
                          code=exc.code, field="sheet") from exc


def sheet_apply(job, upload: Upload, mapping: dict[str, str]) -> dict[str, list]:
    """Point the job (customer or order import) at the sheet read into `upload`, with the guessed mapping: it is
    to be checked again. Return the audit changes."""
    changes = {"sheet": [job.sheet, upload.sheet], "rows": [job.total_rows, upload.rows]}
    job.sheet, job.headers, job.mapping, job.total_rows = upload.sheet, upload.headers, mapping, upload.rows
    job.status, job.error_rows, job.report = ImportStatus.UPLOADED, 0, {}
    job.file.storage.delete(checked_name(job))
    return changes


def run_prepare(job, mode: str | None = None) -> None:
    """Make the job (customer or order import), locked by the caller, ready to run in `mode` (its own when None).

    Refuses a job already imported, a mode that is not one and a job never checked. A job whose "all or nothing"
    run failed runs again, in the mode now chosen, from the rows its check stored (the file is read again when
    they are gone): the check's verdict on each row does not depend on the mode.
    """
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code=ImportCode.ALREADY_IMPORTED)
    if mode is not None:
        if mode not in ImportMode.values:
            raise DomainError(_("Choose how to treat bad rows."), code=ImportCode.INVALID_MODE, field="mode")
        job.mode = mode
    if job.status not in (ImportStatus.VALIDATED, ImportStatus.FAILED):
        raise DomainError(_("Check the file before importing it."), code=ImportCode.NOT_VALIDATED)


class FirstErrors:
    """The errors of an import's first rows, as many as its report shows (customer or order import), and how many
    there are in all; the errors may come in any order."""

    def __init__(self) -> None:
        # (-row, -number, column, message): a heap whose first entry is the one to drop when an earlier row's comes.
        self._heap: list[tuple[int, int, str, str]] = []
        self.count = 0

    def add(self, row: int, column: str, message: str) -> None:
        self.count += 1
        entry = (-row, -self.count, column, message)
        if len(self._heap) < MAX_REPORTED_ERRORS:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            heapq.heapreplace(self._heap, entry)

    def report(self) -> list[dict[str, Any]]:
        """Return the errors kept, by row (then as they came), as the report shows them."""
        return [{"row": -row, "column": column, "message": message}
                for row, _number, column, message in sorted(self._heap, reverse=True)]


class FirstHints:
    """The duplicate hints of an import's first rows, as many as its report shows (customer or order import), and
    how many there are in all; they may come in any order."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, dict[str, Any]]] = []  # (-row, -number, hint), as in FirstErrors
        self.count = 0

    def add(self, row: int, reason: str, value: str, **match: Any) -> None:
        """Add the hint that the row looks like `match` (a stored record, or another row) by `reason` and `value`."""
        self.count += 1
        key = (-row, -self.count)
        if len(self._heap) < MAX_REPORTED_ERRORS:
            heapq.heappush(self._heap, (*key, {"row": row, "reason": reason, "value": value, **match}))
        elif key > self._heap[0][:2]:
            heapq.heapreplace(self._heap, (*key, {"row": row, "reason": reason, "value": value, **match}))

    def report(self) -> dict[str, Any]:
        """Return the hints kept, by row (then as they came), and their count, as the report stores them."""
        return {"duplicate_hints": [hint for _row, _number, hint in sorted(self._heap, key=lambda e: e[:2],
                                                                             reverse=True)],
                "duplicate_hint_count": self.count}


def in_values(column: str, values: Iterable[str]) -> RawSQL:
    """Return the condition "column IN values" with all the values in one parameter.

    Django's __in writes one placeholder per value: for the 20,000 keys of an import, writing and parsing such
    queries (500 values at a time) takes longer than the index lookups themselves.
    """
    name = connection.ops.quote_name(column)
    if connection.vendor == "postgresql":
        return RawSQL(f"{name} = ANY(%s)", (list(values),), output_field=models.BooleanField())
    return RawSQL(f"{name} IN (SELECT value FROM json_each(%s))", (json.dumps(list(values)),),
                  output_field=models.BooleanField())


# The check step stores the rows it checked next to the upload, chunk by chunk, so that the import step need not
# read and check the file again. The key names the file's content, the mapping and what else the check depends on:
# anything else found there is ignored and the file is read again.


class CheckedDamaged(ValueError):
    """The rows stored by a check end before their end mark."""


_LENGTH = struct.Struct("<Q")  # the length of each record stored by the check


def checked_key(data: bytes, *depends_on: Any) -> str:
    """Return the key of rows checked from a file: its content, the language and what else (JSON) the check read."""
    digest = hashlib.sha256(data)
    digest.update(json.dumps([translation.get_language(), *depends_on]).encode())
    return digest.hexdigest()


def checked_name(job) -> str:
    """Return the name, in the upload's storage, of the rows checked from a job's file (customer or order import)."""
    return f"{job.file.name}.checked"


def checked_write(job, key: str, records: Iterable[Any]) -> None:
    """Store, under the key, the records the check step got from the job's file, one by one as they come, then an
    end mark. marshal is fast and, unlike pickle, runs no code to load."""
    storage, name = job.file.storage, checked_name(job)
    with tempfile.TemporaryFile() as spool:
        for record in _framed(key, records):
            spool.write(record)
        spool.seek(0)
        storage.delete(name)
        storage.save(name, File(spool, name=name))


def _framed(key: str, records: Iterable[Any]) -> Iterator[bytes]:
    """Yield the key, each record and the end mark (None), marshalled, each after its length."""
    for record in chain((key,), records, (None,)):
        data = marshal.dumps(record)
        yield _LENGTH.pack(len(data)) + data


def _unframed(stored) -> Iterator[Any]:
    """Yield what `_framed` wrote, up to the end mark; raise CheckedDamaged when the file ends before it."""
    with stored:
        size = stored.size
        while True:
            head = stored.read(_LENGTH.size)
            length = _LENGTH.unpack(head)[0] if len(head) == _LENGTH.size else 0
            data = stored.read(length) if 0 < length <= size else b""
            if len(data) != length or not data:
                raise CheckedDamaged(stored.name)
            record = marshal.loads(data)
            if record is None:
                return
            yield record


def checked_records(job, key: str) -> Iterator[Any] | None:
    """Return the records `checked_write` stored for the job under this key, read one by one, or None (missing,
    other key). A record found damaged while reading raises ValueError (CheckedDamaged at a missing end)."""
    try:
        records = _unframed(job.file.storage.open(checked_name(job), "rb"))
    except OSError:
        return None
    try:
        found = next(records)
    except (ValueError, EOFError, TypeError, struct.error):
        found = None
    if found != key:
        records.close()
        return None
    return records
