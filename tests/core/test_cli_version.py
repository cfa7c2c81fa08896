"""``python -m diffqr --version`` prints ``diffqr.__version__`` (issue 18)."""

from __future__ import annotations

import subprocess
import sys

import diffqr
from diffqr.__main__ import main


def test_version_flag_prints_the_package_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == diffqr.__version__


def test_version_flag_from_the_command_line():
    out = subprocess.run([sys.executable, "-m", "diffqr", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == diffqr.__version__
