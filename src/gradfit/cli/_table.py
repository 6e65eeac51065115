"""CSV files as the command line reads them: RFC 4180 fields, columns chosen by flags, cells
turned into numbers, and errors that name the file, the line and the column.

Fields follow RFC 4180: a field may be quoted with ``"``, and then hold the delimiter, line
breaks and doubled quotes (``""``); there is no comment character; a UTF-8 byte-order mark
is skipped; blank lines are skipped (line numbers in messages still count them). Cells are
read as follows:

* a number (``1.5``, ``-2e3``, ``7``), surrounding spaces ignored;
* ``True`` / ``False`` in any case: 1 / 0 (pandas' ``get_dummies`` writes these);
* a missing cell: empty, or one of :data:`MISSING` (``NA``, ``NaN``, ``NULL``, ...);
* anything else is text: an error, unless its column is dropped or categorical.

pandas' C reader parses the file when pandas is installed (``pip install 'gradfit[csv]'``:
a million rows of ten columns in about a second); without it the standard ``csv`` module
does, with the same results, about 12 times slower (NumPy's C reader takes a file of numbers
only that is read whole: about 5 times slower than pandas; benchmarks/README.md). The file
is read in chunks of rows, so that a file larger than memory can be streamed.
"""
from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ._common import UserError

#: Cells that mean "no value" (after removing surrounding spaces).
MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null",
                     "None", "#N/A", "<NA>"})
DEFAULT_CHUNK_ROWS = 100_000


def _use_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def _blank(row: list[str]) -> bool:
    """A record the readers skip: an empty line, or one holding only spaces."""
    return not row or (len(row) == 1 and not row[0].strip())


@dataclass
class Chunk:
    """Validated rows of one chunk: ``rows`` are their indices among the file's data rows
    (blank lines not counted), ``numbers`` the numeric columns (NaN: missing),
    ``text`` the categorical ones (None: missing); ``n_read`` counts the rows read,
    dropped ones included."""
    rows: np.ndarray
    n_read: int = 0
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, np.ndarray] = field(default_factory=dict)


class CsvFile:
    """A CSV file with a header row: its column names, its rows chunk by chunk."""

    def __init__(self, path: str, delimiter: str = ","):
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise UserError(f"--delimiter must be one character other than a quote or a line "
                            f"break, got {delimiter!r}")
        self.path, self.delimiter = path, delimiter
        self.names = self._header()
        self._scan: Iterator | None = None
        self._scan_next = 0

    # ------------------------------------------------------------------ the header
    def _open_text(self):
        try:
            return open(self.path, newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise UserError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _reader(self, f):
        return csv.reader(f, delimiter=self.delimiter, quotechar='"', doublequote=True)

    def _header(self) -> list[str]:
        with self._open_text() as f:
            try:
                reader = self._reader(f)
                first = next(reader, None)
            except UnicodeDecodeError:
                raise UserError(f"{self.path}: not a text (UTF-8) file") from None
            except csv.Error as exc:
                raise UserError(f"{self.path}:1: the header cannot be read: {exc}") from None
        if first is None or _blank(first):
            raise UserError(f"{self.path}: the file is empty or its first line is blank "
                            f"(expected a header row, then data)")
        names = [name.strip() for name in first]
        seen = set()
        for j, name in enumerate(names):
            if not name:
                raise UserError(f"{self.path}:1: column {j + 1} of the header has no name")
            if name in seen:
                raise UserError(f"{self.path}:1: the column name {name!r} appears twice; "
                                f"names must be unique")
            seen.add(name)
        return names

    # ---------------------------------------------------------- rows -> lines (errors)
    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(first line, fields) of every data row, by the csv module: the slow, exact
        reference used to name lines in messages."""
        with self._open_text() as f:
            reader = self._reader(f)
            try:
                next(reader, None)
                line = reader.line_num
                for row in reader:
                    if not _blank(row):
                        yield line + 1, row
                    line = reader.line_num
            except UnicodeDecodeError:
                self._explain_decode()
            except csv.Error as exc:
                raise UserError(f"{self.path}:{reader.line_num}: {exc}") from None

    def locate(self, row: int) -> tuple[int, list[str]]:
        """The first line and the fields of data row ``row`` (0-based)."""
        if self._scan is None or row < self._scan_next:
            self._scan, self._scan_next = self._records(), 0
        for line, fields in self._scan:
            self._scan_next += 1
            if self._scan_next - 1 == row:
                return line, fields
        raise UserError(f"{self.path}: could not be read")  # pragma: no cover

    def where(self, row: int, name: str) -> tuple[str, str]:
        """'path:line: column 'name'' and the text of that cell."""
        line, fields = self.locate(row)
        j = self.names.index(name)
        text = fields[j].strip() if j < len(fields) else ""
        return f"{self.path}:{line}: column {name!r}", text

    def _ragged(self, line: int, fields: list[str]) -> UserError:
        return UserError(f"{self.path}:{line}: {len(fields)} fields, but the header has "
                         f"{len(self.names)} (a ragged row)")

    def _explain_decode(self):
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise UserError(f"{self.path}:{lineno}: not UTF-8 text") from None
        raise UserError(f"{self.path}: not UTF-8 text")  # pragma: no cover

    def _explain_parse_failure(self, detail: str):
        for line, fields in self._records():
            if len(fields) != len(self.names):
                raise self._ragged(line, fields)
        raise UserError(f"{self.path}: cannot be parsed as CSV: {detail}")

    # -------------------------------------------------------------------- raw chunks
    def raw_chunks(self, usecols: list[str], text_cols: set[str],
                   chunk_rows: int = DEFAULT_CHUNK_ROWS, whole: bool = False):
        """(first row, {name: column}) chunk by chunk: float64 columns where the reader
        parsed numbers already, object columns (str, NaN or None for missing) otherwise;
        ``text_cols`` are always object columns of the cells' text. Ragged rows raise.
        ``whole``: the caller holds every row anyway (no streaming)."""
        if _use_pandas():
            yield from self._pandas_chunks(usecols, text_cols, chunk_rows)
            return
        data = self._numpy_whole() if whole and not text_cols else None
        if data is not None:
            yield 0, {name: data[:, self.names.index(name)] for name in usecols}
        else:
            yield from self._stdlib_chunks(usecols, chunk_rows)

    def _numpy_whole(self) -> np.ndarray | None:
        """Without pandas, a file of numbers only is read at once by NumPy's C reader
        (RFC 4180 quotes, no comment character): several times faster than the csv module.
        None when it cannot read the file (text, empty cells, a ragged row, ...): the csv
        module then reads it and says what is wrong. Cells NumPy reads as NaN count as
        missing, as the other readers' NaN markers do."""
        import warnings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "empty input": no rows, reported later
                data = np.loadtxt(self.path, delimiter=self.delimiter, quotechar='"',
                                  comments=None, skiprows=1, ndmin=2, dtype=np.float64,
                                  encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError, OSError):
            return None
        return data if data.shape[1] == len(self.names) else None

    def _pandas_chunks(self, usecols, text_cols, chunk_rows):
        import pandas as pd
        # Every column is read: with usecols, pandas ignores a row's extra fields. The last
        # one is converted too: a short row leaves it missing.
        last = self.names[-1]
        cols = list(dict.fromkeys([*usecols, last]))
        try:
            reader = pd.read_csv(
                self.path, sep=self.delimiter, header=0, names=self.names,
                dtype=dict.fromkeys(text_cols, object), na_values=sorted(MISSING),
                keep_default_na=False, comment=None, quotechar='"', doublequote=True,
                skip_blank_lines=True, encoding="utf-8-sig", chunksize=chunk_rows,
                engine="c", index_col=False)
            start = 0
            with reader:
                for df in reader:
                    out = {}
                    for name in cols:
                        s = df[name]
                        if s.dtype.kind in "iufb" and name not in text_cols:
                            out[name] = s.to_numpy(dtype=np.float64)
                        else:
                            out[name] = s.to_numpy(dtype=object)
                    self._check_short_rows(start, df[last].isna().to_numpy())
                    yield start, out
                    start += len(df)
        except pd.errors.ParserError as exc:
            self._explain_parse_failure(str(exc).strip())
        except pd.errors.EmptyDataError:
            return
        except UnicodeDecodeError:
            self._explain_decode()

    def _check_short_rows(self, start: int, last_missing: np.ndarray) -> None:
        """pandas fills a short row with missing cells: the rows whose last cell is missing
        are checked against the csv module's count of their fields."""
        for i in np.flatnonzero(last_missing):
            line, fields = self.locate(start + int(i))
            if len(fields) != len(self.names):
                raise self._ragged(line, fields)

    def _stdlib_chunks(self, usecols, chunk_rows):
        index = [self.names.index(c) for c in usecols]
        start = 0
        records = self._records()
        while True:
            block = list(itertools.islice(records, chunk_rows))
            if not block:
                return
            for line, fields in block:
                if len(fields) != len(self.names):
                    raise self._ragged(line, fields)
            out = {}
            for name, j in zip(usecols, index, strict=True):
                out[name] = np.array([fields[j] for _, fields in block], dtype=object)
            yield start, out
            start += len(block)


# ------------------------------------------------------------------------- cells
def _is_missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return v != v
    return isinstance(v, str) and v.strip() in MISSING


class _BadCell(Exception):
    def __init__(self, index: int):
        self.index = index


def _cell(v) -> float:
    """One cell as a number (NaN when missing); _BadCell's caller supplies the place."""
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)  # NaN stays NaN: missing
    if v is None:
        return float("nan")
    s = str(v).strip()
    if s in MISSING:
        return float("nan")
    low = s.lower()
    if low == "true":
        return 1.0
    if low == "false":
        return 0.0
    if "_" in s or low in ("infinity", "+infinity", "-infinity") or "nan" in low:
        raise ValueError(s)  # float() reads '1_000' and 'nan(1)'; no CSV writer means them
    return float(s)


def to_numbers(column: np.ndarray) -> tuple[np.ndarray, int | None]:
    """A column as float64 (NaN where missing) and the index of its first non-numeric cell
    (None if every cell is a number or missing)."""
    if column.dtype == np.float64:
        return column, None
    if all(isinstance(v, str) for v in column[:1]):
        try:  # the common case: text that numpy parses in C
            joined = "".join(column)
            if "_" not in joined and "n" not in joined.lower():  # nan, inf, None: below
                return np.asarray(column, dtype=np.float64), None
        except (TypeError, ValueError):
            pass
    out = np.empty(len(column))
    for i, v in enumerate(column):
        try:
            out[i] = _cell(v)
        except (TypeError, ValueError):
            return out, i
    return out, None


def to_text(column: np.ndarray) -> np.ndarray:
    """A categorical column: the cells' text, None where missing."""
    return np.array([None if _is_missing(v) else str(v) for v in column], dtype=object)


# ------------------------------------------------------------------ column handling
@dataclass
class Spec:
    """Which columns a fit (or a prediction) reads, and how."""
    target: str | None
    features: list[str]          # source columns, in the order of the model's features
    categorical: set[str]
    dropna: bool


def checked_chunks(table: CsvFile, spec: Spec, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                   whole: bool = False):
    """Chunks of validated cells: every numeric cell a finite number, categorical cells
    text; rows with a missing cell (target or feature) dropped with ``spec.dropna``, an
    error otherwise. The first problem of a chunk (in file order) is the one reported.
    ``whole``: the caller keeps every chunk (see CsvFile.raw_chunks)."""
    usecols = list(dict.fromkeys(spec.features + ([spec.target] if spec.target else [])))
    for start, raw in table.raw_chunks(usecols, spec.categorical, chunk_rows, whole):
        k = len(next(iter(raw.values()))) if raw else 0
        problems = []  # (row in chunk, column position, message maker)
        numbers, text = {}, {}
        missing = np.zeros(k, dtype=bool)
        for pos, name in enumerate(usecols):
            if name in spec.categorical:
                text[name] = cells = to_text(raw[name])
                miss = np.fromiter((c is None for c in cells), dtype=bool, count=k)
            else:
                values, bad = to_numbers(raw[name])
                if bad is not None:
                    problems.append((bad, pos, name, "text"))
                    values = values[:bad]
                inf = np.flatnonzero(np.isinf(values))
                if inf.size:
                    problems.append((int(inf[0]), pos, name, "inf"))
                miss = np.isnan(values)
                numbers[name] = values
            if spec.dropna:
                missing[:miss.size] |= miss
            elif miss.any():
                problems.append((int(np.argmax(miss)), pos, name, "missing"))
        if problems:
            i, _, name, kind = min(problems)
            raise _problem(table, spec, start + i, name, kind)
        keep = ~missing
        rows = np.arange(start, start + k)
        if spec.dropna and missing.any():
            rows = rows[keep]
            numbers = {n: v[keep] for n, v in numbers.items()}
            text = {n: v[keep] for n, v in text.items()}
        yield Chunk(rows, k, numbers, text)


def _problem(table: CsvFile, spec: Spec, row: int, name: str, kind: str) -> UserError:
    place, cell = table.where(row, name)
    if kind == "missing":
        return UserError(f"{place}: missing value ({cell!r}); use --dropna to leave out the "
                         f"rows with a missing cell")
    if kind == "inf":
        return UserError(f"{place}: {cell!r} is not a finite number")
    if name == spec.target:
        return UserError(f"{place}: {cell!r} is not a number; the target must be numeric")
    return UserError(f"{place}: {cell!r} is not a number; use --drop {name} to leave the "
                     f"column out, or --categorical {name} to encode its values as 0/1 "
                     f"columns")


# ------------------------------------------------------------------- categorical
def sort_levels(levels) -> list[str]:
    """Numeric order when every level is a number (as patsy's ``C(col)`` on a numeric
    column), else text order."""
    levels = list(levels)
    try:
        return sorted(levels, key=lambda s: (float(s), s))
    except ValueError:
        return sorted(levels)


def feature_names(spec: Spec, levels: dict[str, list[str]], fit_intercept: bool) -> list[str]:
    out = []
    for name in spec.features:
        if name in spec.categorical:
            out += [f"{name}={lv}" for lv in encoded_levels(levels[name], fit_intercept)]
        else:
            out.append(name)
    return out


def encoded_levels(levels: list[str], fit_intercept: bool) -> list[str]:
    """The levels that get a 0/1 column: all but the first (its effect is the intercept),
    every one without an intercept."""
    return levels[1:] if fit_intercept else levels


def design(table: CsvFile, spec: Spec, chunk: Chunk, levels: dict[str, list[str]],
           fit_intercept: bool) -> np.ndarray:
    """The chunk's feature matrix (column-major): numeric columns as they are, categorical
    ones one-hot encoded; a level not in ``levels`` is an error."""
    k = chunk.rows.size
    width = sum(len(encoded_levels(levels[n], fit_intercept)) if n in spec.categorical else 1
                for n in spec.features)
    X = np.zeros((k, width), order="F")
    j = 0
    for name in spec.features:
        if name not in spec.categorical:
            X[:, j] = chunk.numbers[name]
            j += 1
            continue
        encoded = encoded_levels(levels[name], fit_intercept)
        code = {lv: i for i, lv in enumerate(levels[name])}
        cells = chunk.text[name]
        for i, cell in enumerate(cells):
            c = code.get(cell)
            if c is None:
                place, text = table.where(int(chunk.rows[i]), name)
                raise UserError(f"{place}: the level {text!r} was not seen when the model was "
                                f"fitted (its levels: {', '.join(levels[name])})")
            c -= len(levels[name]) - len(encoded)
            if c >= 0:
                X[i, j + c] = 1.0
        j += len(encoded)
    return X
