"""``python -m diffqr bench``: diffqr against each installed framework's native QR, as ratios.

Each framework runs in its own subprocess (frameworks can clash in one process, and the BLAS
thread count must be set before NumPy is imported); inside it, diffqr and the native op are timed
side by side, interleaved.  The parent prints one markdown table per framework and optionally
writes it into a section of a markdown file and draws a PNG plot.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .report import markdown, plot, write_section
from .runner import available, run_framework

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m diffqr bench", description=__doc__.split("\n")[0],
        epilog="python -m diffqr bench --only {pivoted,lstsq,jax,tensorflow,mxnet,dask,accuracy,"
        "families,distributed,small,cholesky,tria,paddle,vjp} [options]: one focused benchmark "
        "instead (see diffqr/_bench/studies).")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (well under a minute "
                        "per framework)")
    parser.add_argument("--framework", action="append", metavar="NAME",
                        help="only this framework (repeatable); default: every installed one")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS/intra-op threads in every framework (default 1: the most "
                        "reproducible on a shared machine)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu (default): the process's CPU time, robust to other processes on "
                        "a shared machine; wall: elapsed time (use on a quiet machine, and with "
                        "--threads > 1, where CPU time adds up the threads)")
    parser.add_argument("--output", type=Path, metavar="MD",
                        help="write the tables into this markdown file's generated section")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="write the ratio plot here")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def _run_in_subprocess(name: str, args: argparse.Namespace) -> dict | None:
    command = [sys.executable, "-m", "diffqr", "bench", "--framework", name, "--json",
               "--threads", str(args.threads), "--clock", args.clock]
    command += ["--quick"] * args.quick + ["--no-progress"] * args.no_progress
    env = os.environ.copy()
    env.update({key: str(args.threads) for key in THREAD_VARIABLES})
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, env=env)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        print(f"{name}: the benchmark crashed (exit status {proc.returncode})", file=sys.stderr)
        return None


def _run_study(argv: list[str]) -> int:
    """``--only NAME [options]``: one focused benchmark of :mod:`.studies`, in a fresh process
    (one BLAS thread unless the environment says otherwise); its options follow its name."""
    from .studies import STUDIES

    if len(argv) < 2 or argv[1] not in STUDIES:
        print(f"--only needs one of {', '.join(STUDIES)}; then that benchmark's options "
              "(--only NAME --help lists them)", file=sys.stderr)
        return 2
    env = os.environ.copy()
    for key in THREAD_VARIABLES:
        env.setdefault(key, "1")
    command = [sys.executable, "-m", f"{__package__}.studies.{argv[1]}", *argv[2:]]
    return subprocess.call(command, env=env)


def main(argv: list[str]) -> int:
    """Entry point of ``python -m diffqr bench``."""
    if argv and argv[0] == "--only":
        return _run_study(argv)
    args = _parser().parse_args(argv)
    if args.threads < 1:
        print("--threads must be at least 1", file=sys.stderr)
        return 2
    installed = available()
    names = args.framework or installed
    unknown = [n for n in names if n not in installed]
    if unknown:
        print(f"not installed or unknown: {', '.join(unknown)}; available: "
              f"{', '.join(installed)}", file=sys.stderr)
        return 2
    if args.json:
        if len(names) != 1:
            print("--json needs exactly one --framework", file=sys.stderr)
            return 2
        result = run_framework(names[0], quick=args.quick, threads=args.threads,
                               clock=args.clock, progress=not args.no_progress)
        print(json.dumps(result))
        return 0
    runs = [run for run in (_run_in_subprocess(name, args) for name in names) if run]
    command = "python -m diffqr bench " + " ".join(argv)
    text = markdown(runs, command.strip())
    print(text)
    if args.output:
        write_section(args.output, text)
    if args.plot and runs:
        plot(runs, args.plot)
    return 0 if len(runs) == len(names) else 1
