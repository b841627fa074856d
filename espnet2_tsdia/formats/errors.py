"""The error type of every data-format problem: it names the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class DataFormatError(ValueError):
    """A malformed data file.

    Args:
        path: the file.
        line: 1-based line number, or None when the problem is not tied to one line.
        message: what is wrong and what was expected.
    """

    def __init__(self, path: Union[str, Path], line: Optional[int], message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
