"""``python -m diffqr bench`` machinery on NumPy with tiny cases (no timing is asserted)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from diffqr._bench import main
from diffqr._bench.report import BEGIN, END, markdown, plot, write_section
from diffqr._bench.runner import Case, NumpyRunner, run_case, run_framework


def test_run_case_reports_ratios_gemm_equivalents_and_memory():
    runner = NumpyRunner()
    result = run_case(runner, Case((30, 20), "float64"), repeats=2, max_repeats=2,
                      progress=lambda: None)
    assert result.repeats == 2
    assert set(result.ratios) == {"fwd"}  # NumPy has no native backward to compare with
    assert result.gemm_equivalents["diffqr"] > 0
    assert 0 < result.memory["diffqr"] < 10  # peak of the explicit rule, in copies of A
    assert all(math.isfinite(v) and v > 0 for v in result.seconds.values())


def test_report_section_is_replaced_in_place(tmp_path):
    run = run_framework("numpy", quick=True, threads=1,
                        cases=[Case((2, 6, 4), "float64"), Case((40, 8), "float64", "cholesky")],
                        progress=False)
    text = markdown([run], "python -m diffqr bench --quick")
    assert "| 2×6×4 | float64 |" in text and "40×8 cholesky" in text
    path = tmp_path / "bench.md"
    path.write_text("# Title\n\nprose\n")
    write_section(path, text)
    write_section(path, "new table")
    content = path.read_text()
    assert content.startswith("# Title\n\nprose\n") and content.count(BEGIN) == 1
    assert "new table" in content and "| 2×6×4 |" not in content and content.rstrip().endswith(END)
    pytest.importorskip("matplotlib")
    plot([run], tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_rejects_unknown_framework_and_bad_threads(capsys):
    assert main(["--framework", "nonesuch"]) == 2
    assert "not installed or unknown: nonesuch" in capsys.readouterr().err
    assert main(["--threads", "0"]) == 2
    assert main(["--only", "nonesuch"]) == 2


def test_pivoted_benchmark_script_prints_a_row_per_shape():
    out = subprocess.run(
        [sys.executable, "-m", "diffqr", "bench", "--only", "pivoted", "--framework", "numpy",
         "--repeats", "2",
         "--shape", "40x12", "--shape", "12x40"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| 40×12") or
            line.startswith("| 12×40")]
    assert len(rows) == 2
    for row in rows:
        ratios = [float(cell.strip().rstrip("×")) for cell in row.strip("|").split("|")[-2:]]
        assert all(math.isfinite(r) and r > 0 for r in ratios)
