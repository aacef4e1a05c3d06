"""The ``aevb`` command line: :func:`main` parses with :mod:`aevb.cli.parser` (no torch) and runs the command from
:mod:`aevb.cli.light` (commands that need no torch, e.g. ``aevb datasets``) or else from :mod:`aevb.cli.commands`,
which is imported only then, so ``aevb --help`` and ``aevb datasets`` start at once."""

from __future__ import annotations

import sys

from aevb.cli.parser import LIGHT_COMMANDS, _config_from_args, build_parser
from aevb.errors import AevbError, Interrupted

__all__ = ["_config_from_args", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # report unknown flags against the subcommand, so the message lists its valid flags
            parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        # Only now, and only what the command needs: torch and the library load for a command, not for --help, and
        # not for the commands that need no torch (listing the datasets needs NumPy alone).
        if args.func in LIGHT_COMMANDS:
            from aevb.cli import light

            return getattr(light, args.func)(args)
        from aevb.cli import commands

        return getattr(commands, args.func)(args)
    except Interrupted as err:
        print(f"aevb: {err}", file=sys.stderr)
        return 130
    except AevbError as err:
        print(f"aevb: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
