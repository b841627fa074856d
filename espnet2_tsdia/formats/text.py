"""What every text format of the package shares: reading a file into numbered lines without
judging it, and the result of parsing one format (entries + problems).

One tolerant parser per format judges each line (a :data:`LineParser`: an :class:`Entry` for a
line whose fields could be read, a :class:`LineProblem` - line, stable code, message saying
what was expected - for everything the format does not allow). ``formats.kaldi.parse_*``,
``formats.rttm.parse_rttm`` and ``formats.uem.parse_uem`` apply it to a :class:`RawFile` and
return a :class:`Parsed`. The three users apply the same judgement:

- the readers (``read_rttm``, ``read_segments``, ...) stream the file and raise
  :class:`DataFormatError` at the first problem (:func:`read_entries`);
- the validator (``data.validate``) reports every problem, by file and line, and keeps checking;
- the fixer (``data.fix``) repairs or drops each problem's line and reports what it did.

What the text itself gets wrong (CRLF, a missing final newline, blank or non-UTF-8 lines) is
recorded in the :class:`RawFile`: readers tolerate all of it except undecodable lines, the
validator reports it, the fixer normalises it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from espnet2_tsdia.formats.errors import DataFormatError

PathLike = Union[str, Path]


class Line(NamedTuple):
    """One non-blank line of a file: its 1-based number, its text without the line ending, its
    whitespace-separated fields."""

    number: int
    text: str
    fields: Tuple[str, ...]


@dataclass
class RawFile:
    """A text file read without judging its content.

    Args:
        name: the file's name as the caller knows it (``"segments"``).
        path: the file.
        lines: the non-blank decodable lines.
        blank: numbers of blank (or all-whitespace) lines.
        crlf: numbers of lines that ended with CRLF.
        undecodable: numbers of lines that are not UTF-8.
        final_newline: the file ends with ``\\n`` (or is empty).
        n_lines: number of lines, the last one counted even without its newline.
        data: the bytes read.
    """

    name: str
    path: Path
    lines: List[Line]
    blank: List[int]
    crlf: List[int]
    undecodable: List[int]
    final_newline: bool
    n_lines: int
    data: bytes = b""


def read_raw(path: PathLike, name: Optional[str] = None) -> RawFile:
    """Read any text file line by line, never raising on its content."""
    path = Path(path)
    data = path.read_bytes()
    parts = data.split(b"\n")
    final_newline = data.endswith(b"\n") or not data
    if final_newline:
        parts = parts[:-1]
    lines, blank, crlf, undecodable = [], [], [], []
    try:  # fast path: the whole file is UTF-8
        texts: List[Optional[str]] = data.decode("utf-8").split("\n")[: len(parts)]
    except UnicodeDecodeError:
        texts = []
        for raw in parts:
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
    for n, text in enumerate(texts, start=1):
        if text is None:
            undecodable.append(n)
            continue
        if text.endswith("\r"):
            crlf.append(n)
            text = text[:-1]
        fields = text.split()
        if not fields:
            blank.append(n)
            continue
        lines.append(Line(n, text, tuple(fields)))
    return RawFile(name or path.name, path, lines, blank, crlf, undecodable, final_newline, len(parts), data)


class Entry(NamedTuple):
    """A parsed line: its key (column 1, or the recording of an RTTM/UEM line) and its value."""

    line: Line
    key: str
    value: Any


class LineProblem(NamedTuple):
    """Something the format does not allow on one line.

    Args:
        line: the line.
        code: a stable short name (``"fields"``, ``"number"``, ``"duplicate_key"``,
            ``"negative_start"``, ``"end_not_after_start"``, ``"duration"``).
        message: what is wrong and what was expected.
        value: for a line that parsed but breaks a rule, the parsed value (its entry is in
            :attr:`Parsed.entries`); for a duplicate key, the first :class:`Entry` of that key.
    """

    line: Line
    code: str
    message: str
    value: Any = None


@dataclass
class Parsed:
    """The result of a format's parser.

    Args:
        entries: every line whose fields could be read, in file order, including lines with a
            rule problem (a segment with ``end <= start``, a repeated key): the problem says so.
        problems: every problem, in line order.
        other: lines that carry no entry by design (comments, other RTTM line types).
    """

    entries: List[Entry] = field(default_factory=list)
    problems: List[LineProblem] = field(default_factory=list)
    other: List[Line] = field(default_factory=list)

    def codes(self) -> Dict[int, List[str]]:
        """Line number -> codes of its problems."""
        out: Dict[int, List[str]] = {}
        for p in self.problems:
            out.setdefault(p.line.number, []).append(p.code)
        return out

    def valid(self) -> List[Entry]:
        """The entries whose lines have no problem."""
        bad = self.codes()
        return [e for e in self.entries if e.line.number not in bad]

    def first_by_key(self) -> Dict[str, Entry]:
        """The first entry of every key (later ones are ``duplicate_key`` problems)."""
        out: Dict[str, Entry] = {}
        for e in self.entries:
            out.setdefault(e.key, e)
        return out

    def add(self, line: Line, code: str, message: str, value: Any = None) -> None:
        self.problems.append(LineProblem(line, code, message, value))

    def check_duplicates(self, what: str) -> None:
        """Add a ``duplicate_key`` problem for every entry whose key an earlier entry has."""
        first: Dict[str, Entry] = {}
        for e in self.entries:
            if e.key in first:
                kept = first[e.key]
                self.add(e.line, "duplicate_key", duplicate_message(what, e.key, kept.line.number), kept)
            else:
                first[e.key] = e
        self.problems.sort(key=lambda p: p.line.number)


#: What a line parser returns: the line's entry (None if it has none) and its problems. A line
#: with neither (a comment) is one the format skips by design.
LineResult = Tuple[Optional[Entry], Sequence[LineProblem]]
LineParser = Callable[[Line], LineResult]


def duplicate_message(what: str, key: str, first_line: int) -> str:
    return f"duplicate {what} {key!r} (first at line {first_line}); keys must be unique"


def parse_lines(raw: RawFile, parse_line: LineParser, *, what: Optional[str] = None) -> Parsed:
    """Apply a format's line parser to every line of ``raw``; with ``what`` (the name of the
    key), repeated keys are ``duplicate_key`` problems."""
    out = Parsed()
    for ln in raw.lines:
        entry, problems = parse_line(ln)
        if entry is not None:
            out.entries.append(entry)
        elif not problems:
            out.other.append(ln)
        out.problems.extend(problems)
    if what is not None:
        out.check_duplicates(what)
    return out


def read_entries(path: PathLike, parse_line: LineParser, *, what: Optional[str] = None) -> Iterator[Entry]:
    """What a reader does: stream the entries of ``path`` through the format's line parser and
    raise at the first problem (the same judgement :func:`parse_lines` gives the validator).

    Raises:
        DataFormatError: the first undecodable line, problem or (with ``what``) repeated key,
            naming the file and the line.
    """
    first: Dict[str, int] = {}
    with open(path, "rb") as f:
        for n, data in enumerate(f, start=1):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError(path, n, "not valid UTF-8") from None
            text = text[:-1] if text.endswith("\n") else text
            text = text[:-1] if text.endswith("\r") else text
            fields = tuple(text.split())
            if not fields:
                continue
            entry, problems = parse_line(Line(n, text, fields))
            if problems:
                raise DataFormatError(path, n, problems[0].message)
            if entry is None:
                continue
            if what is not None:
                if entry.key in first:
                    raise DataFormatError(path, n, duplicate_message(what, entry.key, first[entry.key]))
                first[entry.key] = n
            yield entry


def number(text: str) -> Optional[float]:
    """``text`` as a finite float, or None."""
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def expected_fields(min_fields: int, max_fields: int) -> str:
    """``"2"``, ``"at least 2"`` or ``"1 to 3"`` (``max_fields`` 0: no maximum)."""
    if max_fields == min_fields:
        return str(min_fields)
    if not max_fields:
        return f"at least {min_fields}"
    return f"{min_fields} to {max_fields}"
