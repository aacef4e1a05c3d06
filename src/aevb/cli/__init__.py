"""The ``aevb`` command line: :func:`main` parses with :mod:`aevb.cli.parser` (no torch) and runs the command from
:mod:`aevb.cli.light` (commands that need no torch, e.g. ``aevb datasets``) or else from :mod:`aevb.cli.commands`,
which is imported only then, so ``aevb --help`` and ``aevb datasets`` start at once."""

from __future__ import annotations

import sys

from aevb.cli import light
from aevb.cli.parser import _config_from_args, build_parser
from aevb.errors import AevbError

__all__ = ["_config_from_args", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # report unknown flags against the subcommand, so the message lists its valid flags
            parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        handler = getattr(light, args.func, None)
        if handler is None:
            from aevb.cli import commands  # only now: torch and the library load for a command, not for --help

            handler = getattr(commands, args.func)
        return handler(args)
    except AevbError as err:
        print(f"aevb: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
