"""Reading a CSV (UTF-8) or Parquet file as text, in chunks of numbered rows."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from data_access.config import LOCAL_TZ
from data_access.engine import first_line
from data_access.importer.columns import FITS, INTERNAL, LINE, ROW
from data_access.importer.errors import ImportFileError
from data_access.importer.rejects import no_problems, problem_rows

NOT_UTF8 = r"not UTF-8 text (bytes that are not UTF-8 are shown as \xNN)"


@dataclass
class Chunk:
    frame: pl.DataFrame  # ROW plus every input column, as text
    malformed: list[tuple[int, list[str]]] = field(default_factory=list)  # wrong field count
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)  # (row, line, problem)
    # Values the source could not turn into text (row, field, value, problem): bytes in a
    # Parquet binary column that are not UTF-8. The value is shown, the row is rejected.
    undecoded: pl.DataFrame = field(default_factory=lambda: no_problems())

    @property
    def bad_rows(self) -> list[int]:
        """Numbers of the rows that are not in `frame`."""
        return [*(row for row, _ in self.malformed), *(row for row, _, _ in self.unreadable)]


def _header(names: list[str], path: Path) -> list[str]:
    columns = [name.strip() or f"column_{number}" for number, name in enumerate(names, start=1)]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}: column {', '.join(repeated)} appears more than once "
                              "in the header")
    internal = [name for name in columns if name.startswith(INTERNAL)]
    if internal:
        raise ImportFileError(f"{path}: column {', '.join(internal)} starts with {INTERNAL!r}, "
                              "which the importer keeps for its own columns; rename it")
    return columns


def _check_utf8(path: Path) -> None:
    """Refuse a UTF-16 or Latin-1 file before a single row is stored, naming the line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        first = True
        while block := handle.read(1 << 20):
            if first and block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise ImportFileError(f"{path} is UTF-16 encoded (byte-order mark); "
                                      "save it as UTF-8")
            if first and b"\x00" in block[:4096]:
                raise ImportFileError(f"{path} has NUL bytes near its start, so it is probably "
                                      "UTF-16 encoded; save it as UTF-8")
            first = False
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                bad = error.object[error.start]
                line += error.object.count(b"\n", 0, error.start)
                raise ImportFileError(
                    f"{path} is not UTF-8: byte 0x{bad:02X} on line {line} is invalid (Latin-1 "
                    "or Windows-1251, perhaps); save it as UTF-8") from None
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFileError(f"{path} is not UTF-8: it ends inside a character on line "
                                  f"{line}; save it as UTF-8") from None


def _unquoted(field_text: str) -> str | None:
    """A header name without the quotes around it; None if it needs a CSV parser."""
    if '"' not in field_text:
        return field_text
    simple = len(field_text) >= 2 and field_text[0] == field_text[-1] == '"'
    return field_text[1:-1] if simple and '"' not in field_text[1:-1] else None


# A record: (line, fields, None); a line that cannot be read: (line, its text, the problem).
_Record = tuple[int, list[str], None] | tuple[int, str, str]


class _CsvRecords:
    """The records of a CSV text file, parsed strictly, so that a stray quote costs one line.

    The csv module reads an opening quote that is never closed properly on to the end of the
    file (or to its 128 KB field limit), so a single bad line would swallow every row after
    it. Here a record that breaks strict parsing, or that spans lines and then has the wrong
    number of fields, is cut back to its first line: that line is returned as unreadable and
    the lines after it are read again, as rows of their own. A quoted value may still span
    lines (RFC 4180) when its record has the header's number of fields.
    """

    def __init__(self, stream: TextIO, lines_before: int = 0, width: int | None = None) -> None:
        self._stream = stream
        self._lines_before = lines_before
        self.width = width  # the header's field count, once known

    def __iter__(self) -> Iterator[_Record]:
        line = self._lines_before  # lines of the file read so far
        again: list[str] = []  # lines to read again after a cut, then the rest of the file
        while True:
            # The reader takes lines from `ahead`; `behind` keeps them until the record is
            # known to be good, so a cut can give them back. Both stay in C for plain rows.
            ahead, behind = itertools.tee(itertools.chain(again, self._stream))
            reader = csv.reader(ahead, strict=True)
            done = 0  # lines of this reader's input that whole records took
            while True:
                error = None
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as problem:
                    error, fields = str(problem), []
                taken = reader.line_num - done
                if error is None and (taken == 1 or self.width in (None, len(fields))):
                    if taken == 1:  # let the record's lines go
                        next(behind)
                    else:
                        next(itertools.islice(behind, taken - 1, None))
                    done += taken
                    line += taken
                    if fields:  # not a blank line
                        yield line - taken + 1, fields, None
                    continue
                lines = list(itertools.islice(behind, taken))
                long_record = _long_record(lines) if taken == 1 and error is not None \
                    and error.startswith(_FIELD_LIMIT) else None
                if long_record is not None:  # checked like any row: rejected, column named
                    yield line + 1, long_record, None
                else:
                    yield line + 1, lines[0].removesuffix("\n").removesuffix("\r"), \
                        self._problem(error, line + 1, line + taken, len(fields))
                line += 1
                again = lines[1:] + again[done + taken:]
                break

    def _problem(self, error: str | None, first: int, last: int, fields: int) -> str:
        """Why the record starting on line `first` and ending on `last` cannot be read."""
        if error is not None and error.startswith(_FIELD_LIMIT):
            error = (f"a value is longer than {csv.field_size_limit():,} characters "
                     "(an unclosed quote, perhaps)")
        if first == last:
            if error == "unexpected end of data":
                error = "the quote opened on this line is never closed"
            return f"{error}; a quote inside a value must be doubled and the whole value quoted"
        if error == "unexpected end of data":
            how = "the file ends inside it"
        elif error is None:
            how = f"gives {fields} fields, the header has {self.width}"
        else:
            how = f"breaks there ({error})"
        return (f"the quote opened on this line runs on to line {last} and {how}; only this "
                "line is rejected, reading goes on with the next line")


_FIELD_LIMIT = "field larger than field limit"


def _long_record(lines: list[str]) -> list[str] | None:
    """The fields of one line holding a value over the csv module's limit, or None if the
    line is not CSV on its own (a quote not closed on it).

    A whole line is in memory already, so reading it without the limit costs nothing, and the
    row is then checked as on the fast path, where values longer than VALUE_MAX are rejected.
    """
    limit = csv.field_size_limit(len(lines[0]) + 1)
    try:
        return next(csv.reader(lines, strict=True))
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(limit)


class CsvSource:
    """Rows of a UTF-8 CSV file (a BOM is fine); blank lines are not rows.

    Plain blocks (every quote around a whole field without quotes, commas or line breaks:
    most machine-written files) are split by Polars, about six times faster than the csv
    module; from the first block that needs more on, the csv module reads the rest, so quoted
    commas and line breaks are read as by any CSV reader.
    """

    BLOCK_BYTES = 1 << 22

    def __init__(self, path: Path) -> None:
        _check_utf8(path)
        self.path = path
        self._binary = path.open("rb")
        self._text: TextIO | None = None
        self._parser: _CsvRecords | None = None
        self._records: Iterator[_Record] | None = None
        first = self._binary.readline().removeprefix(codecs.BOM_UTF8).decode("utf-8")
        names: list[str] | None = [_unquoted(name) for name in  # type: ignore[misc]
                                   first.removesuffix("\n").removesuffix("\r").split(",")]
        if not first.strip() or None in names or "\r" in first.rstrip("\r\n"):
            names = self._read_header_with_csv_module()
        if names is None:
            raise ImportFileError(f"{path} is empty: no header row")
        self.columns = _header(names, path)
        if self._parser is not None:
            self._parser.width = len(self.columns)

    def _switch_to_csv_module(self, offset: int, lines_before: int,
                              width: int | None) -> Iterator[_Record]:
        self._binary.seek(offset)
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig" if offset == 0
                                      else "utf-8", newline="")
        self._parser = _CsvRecords(self._text, lines_before, width)
        self._records = iter(self._parser)
        return self._records

    def _read_header_with_csv_module(self) -> list[str] | None:
        record = next(self._switch_to_csv_module(0, 0, None), None)
        if record is None:
            return None
        line, fields, problem = record
        if problem is not None:
            raise ImportFileError(f"{self.path}: the header (line {line}) cannot be read as "
                                  f"CSV: {problem.split('; ')[0]}")
        assert isinstance(fields, list)
        return fields

    def chunks(self, size: int) -> Iterator[Chunk]:
        number = 0
        lines_before = 1  # the header's
        pending = pl.DataFrame()  # plain lines, split, not handed out yet
        while self._records is None:
            offset = self._binary.tell()
            block = self._binary.read(self.BLOCK_BYTES)
            if block and not block.endswith(b"\n"):
                block += self._binary.readline()
            lines = self._plain_lines(block) if block else None
            if block and lines is None:
                self._switch_to_csv_module(offset, lines_before, len(self.columns))
                break
            lines_before += block.count(b"\n")
            if lines is not None:
                pending = pl.concat([pending, lines])
            while pending.height >= size or (not block and pending.height):
                yield self._chunk(pending.head(size), number)
                number += min(size, pending.height)
                pending = pending.slice(size)
            if not block:
                return
        if pending.height:
            yield self._chunk(pending, number)
            number += pending.height
        yield from self._parsed_chunks(size, number)

    def _plain_lines(self, block: bytes) -> pl.DataFrame | None:
        """The block's non-blank lines split at the commas, or None if it needs a CSV parser:
        a bare carriage return, or a quote that is not around a whole simple field."""
        if block.count(b"\r") != block.count(b"\r\n"):
            return None
        width = len(self.columns)
        text = pl.Series([block.decode("utf-8")]).str.split("\n").explode()
        text = text.str.strip_suffix("\r")
        frame = pl.DataFrame({LINE: text.filter(text.str.len_bytes() > 0)}).with_columns(
            pl.col(LINE).str.count_matches(",", literal=True).eq(width - 1).alias(FITS))
        frame = frame.with_columns(pl.col(LINE).str.split_exact(",", width - 1)
                                   .struct.rename_fields(self.columns).struct.unnest())
        if b'"' not in block:
            return frame
        quoted = [pl.col(name).str.starts_with('"') for name in self.columns]
        unclear = (~pl.col(FITS) & pl.col(LINE).str.contains('"', literal=True)) | (
            pl.col(FITS) & pl.any_horizontal(
                pl.col(name).str.contains('"', literal=True)
                & ~pl.col(name).str.contains(r'^"[^"]*"$') for name in self.columns))
        if frame.select(unclear.any()).item():
            return None
        return frame.with_columns(
            pl.when(is_quoted).then(pl.col(name).str.slice(1, pl.col(name).str.len_chars() - 2))
            .otherwise(pl.col(name)).alias(name)
            for name, is_quoted in zip(self.columns, quoted, strict=True))

    def _chunk(self, lines: pl.DataFrame, number: int) -> Chunk:
        """Rows numbered on from `number`; a line with the wrong field count is malformed."""
        lines = lines.with_columns(pl.int_range(number + 1, number + 1 + lines.height,
                                                dtype=pl.Int64).alias(ROW))
        malformed = lines.filter(~pl.col(FITS))
        return Chunk(lines.filter(FITS).select(*self.columns, ROW),
                      [(row, line.split(",")) for line, row in
                       zip(malformed[LINE], malformed[ROW], strict=True)])

    def _parsed_chunks(self, size: int, number: int) -> Iterator[Chunk]:
        assert self._records is not None
        width = len(self.columns)
        schema = dict.fromkeys(self.columns, pl.String)
        while True:
            records: list[list[str]] = []
            rows: list[int] = []
            chunk = Chunk(pl.DataFrame())
            for line, fields, problem in self._records:
                number += 1
                if problem is not None:
                    assert isinstance(fields, str)
                    chunk.unreadable.append((number, fields, f"line {line} (row {number}) "
                                             f"cannot be read as CSV: {problem}"))
                elif len(fields) == width:
                    records.append(fields)
                    rows.append(number)
                else:
                    chunk.malformed.append((number, fields))
                if len(rows) + len(chunk.malformed) + len(chunk.unreadable) >= size:
                    break
            if not rows and not chunk.bad_rows:
                return
            chunk.frame = pl.DataFrame(records, schema=schema, orient="row").with_columns(
                pl.Series(ROW, rows, dtype=pl.Int64))
            yield chunk

    def close(self) -> None:
        (self._text or self._binary).close()


class ParquetSource:
    """Rows of a Parquet file; every column is turned into text and checked like CSV."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise ImportFileError(
                f"{path} is not a readable Parquet file: {first_line(error)}") from None
        self.columns = _header(list(self._file.schema_arrow.names), path)
        try:
            empty = pl.from_arrow(_instants_in_utc(self._file.schema_arrow.empty_table()))
        except (pa.ArrowException, pl.exceptions.PolarsError,
                pl.exceptions.PanicException) as error:
            raise ImportFileError(f"{path} has a column type that cannot be read: "
                                  f"{first_line(error)}") from None
        assert isinstance(empty, pl.DataFrame)
        # A list or struct is no single value to check; refused before anything is written.
        nested = [f"{name} ({dtype})" for name, dtype in zip(self.columns, empty.dtypes,
                                                              strict=True)
                  if dtype.is_nested() or dtype == pl.Object]
        if nested:
            several = len(nested) > 1
            raise ImportFileError(
                f"{path}: column{'s' if several else ''} {', '.join(nested)} "
                f"hold{'' if several else 's'} lists or structs, not single values; flatten "
                f"or drop {'them' if several else 'it'}")

    def chunks(self, size: int) -> Iterator[Chunk]:
        number = 0
        try:
            for batch in self._file.iter_batches(batch_size=size):
                frame = pl.from_arrow(_instants_in_utc(batch))
                assert isinstance(frame, pl.DataFrame)
                frame = frame.rename(dict(zip(frame.columns, self.columns, strict=True)))
                rows = pl.int_range(number + 1, number + 1 + frame.height, eager=True)
                number += frame.height
                frame = frame.with_columns(rows.alias(ROW))
                undecoded = [no_problems()]
                for name in [name for name, dtype in frame.schema.items() if dtype == pl.Binary]:
                    text, bad = _decoded(frame[name])
                    frame = frame.with_columns(text)
                    undecoded.append(problem_rows(frame.filter(bad), name, pl.col(name),
                                               pl.lit(NOT_UTF8)))
                frame = frame.select(*(_as_text(name, dtype) for name, dtype
                                       in frame.schema.items() if name != ROW), ROW)
                yield Chunk(frame, undecoded=pl.concat(undecoded))
        except (pa.ArrowException, OSError, pl.exceptions.PolarsError,
                pl.exceptions.PanicException) as error:
            raise ImportFileError(f"{self.path}: rows from {number + 1} on cannot be read: "
                                  f"{first_line(error)}") from None

    def close(self) -> None:
        self._file.close()


def _instants_in_utc(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Timestamp columns with any time zone (`+05:45` as pandas writes an offset, `Asia/...`,
    even a name Polars does not know) relabelled UTC.

    Arrow stores such a column as UTC instants and the zone is only a label, so relabelling
    keeps every instant; Polars then converts them to local time like any other. Polars
    itself cannot read a fixed-offset label such as `+05:45` (it panics).
    """
    columns = []
    for column, kind in zip(data.columns, data.schema.types, strict=True):
        if pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz != "UTC":
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        columns.append(column)
    return type(data).from_arrays(columns, names=data.schema.names)


def _decoded(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A binary column as UTF-8 text, and where it is not UTF-8 (those bytes are shown with
    \\xNN escapes, for the rejects file)."""
    try:
        return values.cast(pl.String), pl.Series([False] * values.len())
    except pl.exceptions.ComputeError:  # rare: find the bad values one by one
        texts = [None if value is None else value.decode("utf-8", "backslashreplace")
                 for value in values]
        bad = [value is not None and text.encode("utf-8") != value
               for value, text in zip(values, texts, strict=True)]
        return pl.Series(values.name, texts, dtype=pl.String), pl.Series(bad)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A Parquet column as the text a CSV file would hold (binary is decoded before)."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:  # an instant: shown in local time like any other
            column = column.dt.convert_time_zone(LOCAL_TZ.key).dt.replace_time_zone(None)
        return pl.when(column.dt.microsecond() == 0).then(
            column.dt.strftime("%Y-%m-%d %H:%M:%S")).otherwise(
            column.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
    if dtype.is_float():  # 5.0 from a pandas column with gaps is the whole number 5
        whole = column.is_finite() & (column == column.round(0))
        # Digits also beyond 64 bits (1e20), so the range check shows the value; the float's
        # own text (1e+300) beyond 38 digits.
        digits = pl.coalesce(column.cast(pl.Int64, strict=False).cast(pl.String),
                             column.cast(pl.Decimal(38, 0), strict=False).cast(pl.String))
        return pl.when(whole).then(pl.coalesce(digits, column.cast(pl.String))
                                   ).otherwise(column.cast(pl.String))
    return column.cast(pl.String)


def open_source(path: Path) -> CsvSource | ParquetSource:
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    if not path.is_file():
        raise ImportFileError(f"{path} is not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvSource(path)
    if suffix in (".parquet", ".pq"):
        return ParquetSource(path)
    raise ImportFileError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                          "use .csv (UTF-8) or .parquet")
