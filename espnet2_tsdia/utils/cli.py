"""The command-line conventions shared by every ``espnet2_tsdia.bin`` tool.

- :func:`get_parser`: an :class:`ArgumentParser` whose ``--help`` shows the module docstring (its
  ``Usage:`` block) verbatim, and whose usage errors are one line on stderr and exit status 2.
- :func:`add_log_level` and :func:`setup_logging`: one ``--log_level`` option and one log format.
- :func:`run`: the body of a tool's ``main``; an expected error (bad input: a bad option value, a
  missing or malformed file) becomes one line ``<prog>: error: <message>`` on stderr and exit
  status 2, never a traceback.
- Option types for values that come from shell scripts: :func:`str2bool` (``true``/``false``)
  and :func:`str_list` (``'a b c'`` or ``a,b,c``).

Exit statuses: 0 success; 1 the tool ran and its answer is negative (a data dir that is not
usable, a failed download or training run); 2 bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, List, NoReturn, Optional, Sequence, Tuple, Type

LOG_LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"

#: Exit status of bad input (the shell's and argparse's convention for a misused command).
BAD_INPUT = 2


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined with ``; `` (a message for stderr)."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line: ``<prog>: error: <message>``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def get_parser(doc: Optional[str], *, prog: Optional[str] = None, **kwargs) -> ArgumentParser:
    """A tool's parser: ``--help`` prints ``doc`` (the module docstring with its Usage block) as
    written, then the options."""
    kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    return ArgumentParser(prog=prog, description=doc, **kwargs)


def add_log_level(parser: argparse.ArgumentParser, default: str = "INFO") -> None:
    parser.add_argument("--log_level", default=default, type=str.upper, choices=LOG_LEVELS, help="logging level")


def setup_logging(level: str = "INFO", fmt: str = LOG_FORMAT) -> None:
    """Log to stderr in the package's format (no change where the process set up logging already,
    as pytest does; the level is set either way)."""
    logging.basicConfig(format=fmt, stream=sys.stderr)
    logging.getLogger().setLevel(level)


def fail(prog: str, message: object) -> int:
    """Print ``<prog>: error: <message>`` as one line on stderr; returns the bad-input status."""
    print(f"{prog}: error: {one_line(str(message)) or type(message).__name__}", file=sys.stderr)
    return BAD_INPUT


def run(
    body: Callable[[], Optional[int]], *, prog: str, errors: Tuple[Type[BaseException], ...] = (ValueError, OSError)
) -> int:
    """Run a tool's body; an exception of ``errors`` (bad input) becomes one line on stderr and
    exit status 2. Returns the body's status (None counts as 0)."""
    try:
        status = body()
    except errors as e:
        return fail(prog, e)
    return 0 if status is None else int(status)


def str2bool(text: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``; any case)."""
    value = str(text).strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def str_list(text: str) -> List[str]:
    """A list given as one word: ``'a b c'`` or ``a,b,c`` (empty text: an empty list)."""
    return [t for t in str(text).replace(",", " ").split() if t]


def shell_value(value: object) -> str:
    """An option's default as a shell script gives it back: lists space-separated, booleans
    ``true``/``false``, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def own_options(parser: argparse.ArgumentParser, before: Sequence[argparse.Action]) -> List[argparse.Action]:
    """The options added to ``parser`` since its actions were ``before``."""
    known = {id(a) for a in before}
    return [a for a in parser._actions if id(a) not in known]
