"""A base for Glasspane's management commands: bad arguments are one clear line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser


class _OneLineParser(CommandParser):
    def error(self, message):
        if self.called_from_command_line:
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            sys.exit(2)
        raise CommandError(f"Error: {message}", returncode=2)


def _one_line(parser: CommandParser) -> None:
    """Make ``parser`` and every sub-command parser below it report errors in one line."""
    parser.__class__ = _OneLineParser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _one_line(sub)


class GlasspaneCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        _one_line(parser)
        return parser

    def execute(self, *args, **options):
        """Anything unforeseen (a database that went away, a bug) is one line and exit status 1, not a
        traceback; ``--traceback`` shows it whole."""
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except Exception as exc:
            if options.get("traceback"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise CommandError(f"failed: {type(exc).__name__}: {first} (rerun with --traceback for details)",
                               returncode=1) from exc

    def usage_error(self, message: str) -> CommandError:
        """An error in what the caller typed: one line, exit status 2."""
        return CommandError(message, returncode=2)

    def write_json(self, data) -> None:
        self.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str))


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a pair without '=' is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--{what} {pair!r}: expected key=value", returncode=2)
        result[key.strip()] = value
    return result
