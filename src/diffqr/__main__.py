"""Command line: ``python -m diffqr check`` and ``python -m diffqr bench``."""

from __future__ import annotations

import sys

USAGE = """usage: python -m diffqr check [--framework NAME]   every capability vs finite differences
                          [--no-distributed]         (without the diffqr.distributed rows)
       python -m diffqr bench [--quick] [--only ...] diffqr against the native ops
       python -m diffqr --version"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--version":
        from . import __version__

        print(__version__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "check":
        from ._check import main as check

        return check(rest)
    if command == "bench":
        from ._bench import main as bench

        return bench(rest)
    print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
