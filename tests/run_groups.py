"""Run each test group in its own pytest process and sum up.

A group is a folder of tests/ (``core``, ``torch``, ...) or ``conformance-<framework>``: the shared
conformance suite (tests/conformance) run for one framework.  Frameworks such as torch and
tensorflow can clash inside one process, so every group gets a fresh interpreter.  A group that
collects no test (pytest exit code 5) counts as a failure.

usage: python tests/run_groups.py [GROUP ...]      (default: every group but the MXNet ones)
       python tests/run_groups.py conformance-torch      (one framework's conformance suite)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from diffqr._dispatch import FRAMEWORKS

TESTS = Path(__file__).resolve().parent
CONFORMANCE = "conformance"
# Every framework of the package's registry is a conformance group; those tested in their own
# virtual environment (MXNet: `make test-mxnet`) run there, with their framework folder.
CONFORMANCE_BACKENDS = tuple(f.name for f in FRAMEWORKS)
SEPARATE_ENVIRONMENT = {group for f in FRAMEWORKS if f.own_environment
                        for group in (f.name, f"{CONFORMANCE}-{f.name}")}


def groups_to_run(argv: list[str]) -> list[str]:
    if argv:
        return argv
    folders = [p.name for p in TESTS.iterdir()
               if p.is_dir() and any(p.glob("test_*.py")) and p.name != CONFORMANCE]
    conformance = [f"{CONFORMANCE}-{name}" for name in CONFORMANCE_BACKENDS]
    return [g for g in sorted(folders) + conformance if g not in SEPARATE_ENVIRONMENT]


def pytest_args(group: str) -> list[str]:
    """``conformance-<framework>`` → the suite with ``--backend``; else the folder."""
    prefix = f"{CONFORMANCE}-"
    if group.startswith(prefix):
        backend = group.removeprefix(prefix)
        if backend not in CONFORMANCE_BACKENDS:
            raise SystemExit(f"unknown group {group!r}: the conformance backends are "
                             f"{', '.join(CONFORMANCE_BACKENDS)}")
        return [str(TESTS / CONFORMANCE), f"--backend={backend}"]
    if not (TESTS / group).is_dir():
        raise SystemExit(f"unknown group {group!r}")
    return [str(TESTS / group)]


def run_group(group: str, report: Path) -> tuple[int, dict[str, int]]:
    code = subprocess.call(
        [sys.executable, "-m", "pytest", *pytest_args(group), "-q", f"--junitxml={report}"],
        cwd=TESTS.parent,
    )
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if report.exists():
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        total = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts = {"passed": total - failed - skipped, "failed": failed, "skipped": skipped}
    return code, counts


def main(argv: list[str]) -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    bad: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups_to_run(argv):
            print(f"\n=== test group: {group}", flush=True)
            start = time.perf_counter()
            code, counts = run_group(group, Path(tmp) / f"{group}.xml")
            print(f"=== {group}: {counts['passed']} passed, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped in {time.perf_counter() - start:.0f} s", flush=True)
            for key in totals:
                totals[key] += counts[key]
            if code != 0:
                reason = "no tests collected" if code == 5 else f"pytest exit code {code}"
                bad.append(f"{group} ({reason})")
    if bad:
        print("failing groups: " + ", ".join(bad))
    print(f"tests: {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['skipped']} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
