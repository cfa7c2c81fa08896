"""diffqr against each installed framework's native QR; updates docs/benchmarks.md and .png.

usage: python benchmarks/bench_qr.py [--quick] [--framework NAME ...] [--threads N]
(any option of ``python -m diffqr bench``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from diffqr._bench import main

DOCS = Path(os.path.relpath(Path(__file__).resolve().parent.parent / "docs"))

if __name__ == "__main__":
    sys.exit(main(["--output", str(DOCS / "benchmarks.md"), "--plot", str(DOCS / "benchmarks.png"),
                   *sys.argv[1:]]))
