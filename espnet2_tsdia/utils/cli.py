"""The command-line conventions shared by every ``espnet2_tsdia.bin`` tool.

- :func:`get_parser`: an :class:`ArgumentParser` whose ``--help`` shows the module docstring (its
  ``Usage:`` block) as written, then every option with its default; a usage error is one line
  ``<prog>: error: <message>`` on stderr and exit status 2.
- :func:`add_log_level` and :func:`setup_logging`: one ``--log_level`` option and one log format,
  on stderr.
- :func:`fail`: an expected error of the tool's input (a bad option value, a missing or
  malformed file) as one line ``<prog>: error: <message>`` on stderr; returns exit status 2.
  :func:`run` does it for a tool's body.
- Option types for values that come from shell scripts: :func:`str2bool` (``true``/``false``)
  and :func:`str_list` (``'a b c'`` or ``a,b,c``).

Exit statuses: 0 success; 1 the tool ran and its answer is negative (a data dir that is not
usable, a config with problems, a failed download or training run); 2 bad input.

A tool's ``main``::

    def main(argv=None) -> int:
        parser = get_parser()            # cli.get_parser(__doc__, prog="tool") + options + cli.add_log_level
        args = parser.parse_args(argv)
        cli.setup_logging(args.log_level)
        try:
            ...
        except (DataFormatError, ValueError, FileNotFoundError) as e:
            return cli.fail(parser.prog, e)
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, List, NoReturn, Optional, Tuple, Type

LOG_LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"

#: Exit status of bad input (the shell's and argparse's convention for a misused command).
BAD_INPUT = 2
#: Exit status of a tool that ran and failed, or whose answer is negative.
FAILED = 1


def one_line(text: object) -> str:
    """``text`` with its whitespace (newlines too) collapsed: a message for one line of stderr."""
    return " ".join(str(text).split())


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description (the module docstring) as written; each option's default unless its help
    already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text:
            return text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, ``<prog>: error: <message>``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"{self.prog}: error: {one_line(message)}\n")


class ConfigArgumentParser(ArgumentParser):
    """An :class:`ArgumentParser` with ESPnet's ``--config`` convention: a yaml whose keys are
    option names (without ``--``) sets their defaults, and the command line wins. Unlike ESPnet's
    (``espnet2.utils.config_argparse``), a value is checked as the command line would check it:
    scalars (and the items of lists) through the option's type and choices; nested values
    (mappings) reach the tool as they are. A bad key or value is one line naming the file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--config", default=None, help="yaml of option values (keys: option names); the command line wins"
        )

    def parse_known_args(self, args=None, namespace=None):
        first = argparse.ArgumentParser(add_help=False)
        first.add_argument("--config", default=None)
        known, _ = first.parse_known_args(sys.argv[1:] if args is None else args)
        if known.config is not None:
            self.set_defaults(**self._read_config(known.config))
        return super().parse_known_args(args, namespace)

    def _read_config(self, path: str) -> dict:
        import yaml

        try:
            with open(path, encoding="utf-8") as f:
                values = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            self.error(f"--config {path}: {e}")
        if values is None:
            return {}
        if not isinstance(values, dict):
            self.error(f"--config {path}: expected a mapping of option names to values, got {type(values).__name__}")
        actions = {a.dest: a for a in self._actions if a.option_strings}
        checked = {}
        for key, value in values.items():
            action = actions.get(key)
            if action is None or key in ("config", "help"):
                self.error(f"--config {path}: {key}: not an option of {self.prog}")
            try:
                checked[key] = self._check(action, value)
            except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
                self.error(f"--config {path}: {key}: {e}")
            action.required = False  # given by the file
        return checked

    @staticmethod
    def _check(action: argparse.Action, value):
        """``value`` as the command line would give it: through the option's type (str by
        default) and choices."""
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, list):
            return [ConfigArgumentParser._check(action, v) for v in value]
        value = (action.type or str)(value if isinstance(value, str) else str(value))
        if action.choices is not None and value not in action.choices:
            raise ValueError(f"invalid choice {value!r} (choose from {', '.join(map(str, action.choices))})")
        return value


def get_parser(doc: Optional[str], *, prog: Optional[str] = None, config: bool = False, **kwargs) -> ArgumentParser:
    """A tool's parser: ``--help`` prints ``doc`` (the module docstring with its Usage block) as
    written, then the options with their defaults. ``prog``: the tool's name in messages.
    ``config``: the tool takes ``--config YAML`` (:class:`ConfigArgumentParser`)."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    cls = ConfigArgumentParser if config else ArgumentParser
    return cls(prog=prog, description=doc, **kwargs)


def add_log_level(parser: argparse.ArgumentParser, default: str = "INFO") -> None:
    parser.add_argument(
        "--log_level", default=default, type=str.upper, choices=LOG_LEVELS, help="messages on stderr from this level"
    )


def setup_logging(level: str = "INFO", fmt: str = LOG_FORMAT) -> None:
    """Log to stderr in the package's format at ``level`` (the format is kept where the process
    set up logging already, as pytest does)."""
    logging.basicConfig(format=fmt, stream=sys.stderr)
    logging.getLogger().setLevel(level)


def fail(prog: str, error: object, status: int = BAD_INPUT) -> int:
    """Print ``<prog>: error: <error>`` as one line on stderr; returns ``status`` (2: bad input)."""
    message = one_line(error) or type(error).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def run(
    body: Callable[[], Optional[int]],
    *,
    prog: str,
    errors: Tuple[Type[BaseException], ...] = (ValueError, OSError),
    failures: Tuple[Type[BaseException], ...] = (),
) -> int:
    """Run a tool's body: an exception of ``failures`` ends it with one line and status 1, one of
    ``errors`` (bad input) with one line and status 2. Returns the body's status (None: 0)."""
    try:
        status = body()
    except failures as e:
        return fail(prog, e, FAILED)
    except errors as e:
        return fail(prog, e, BAD_INPUT)
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
