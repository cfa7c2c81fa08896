"""``python -m diffqr check``: every capability on every installed framework vs finite differences.

Each framework runs in its own subprocess (frameworks such as torch and tensorflow can clash in one
process); the parent collects their JSON results and prints one table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

import numpy as np

from .._verify import adjoint_error, central_difference, random_matrix, relative_error
from .capabilities import CAPABILITIES, Capability
from .harness import Fn, Harness, harnesses

# Central differences with h = 1e-6 in float64 are accurate to ~1e-9 on these well-conditioned
# cases; a wrong rule is off by O(1).
TOLERANCE = 1e-6


@dataclass
class Cell:
    status: str  # diffqr: ok / FAILED / n/a;  native: ok / wrong / raises / absent / n/a
    error: float | None = None
    detail: str = ""


def measure(harness: Harness, cap: Capability, fn: Fn, *, explicit: bool, seed: int = 0,
            vjp_only: bool = False) -> float:
    """Worst relative error of the VJP and JVP (the VJP alone with ``vjp_only``) of ``fn``
    against central differences."""
    rng = np.random.default_rng(seed)
    inputs = cap.inputs(rng)
    outputs = harness.call(fn, inputs)
    cotangents = [random_matrix(rng, y.shape, cap.dtype) for y in outputs]
    tangents = [random_matrix(rng, x.shape, cap.dtype) for x in inputs]
    fd = central_difference(lambda *xs: harness.call(fn, xs), inputs, tangents)
    if explicit:
        input_cotangents = harness.explicit(cap.explicit_vjp, inputs, outputs, cotangents)
        output_tangents = harness.explicit(cap.explicit_jvp, inputs, outputs, tangents)
    else:
        input_cotangents = harness.vjp(fn, inputs, cotangents)
        if vjp_only or not harness.forward_mode:
            return adjoint_error(input_cotangents, tangents, cotangents, fd)
        output_tangents = harness.jvp(fn, inputs, tangents)
    return max(
        adjoint_error(input_cotangents, tangents, cotangents, fd),
        relative_error(output_tangents, fd),
    )


def _unsupported_dtype(harness: Harness, cap: Capability) -> Cell | None:
    if cap.dtype in harness.dtypes:
        return None
    return Cell("n/a", None, f"{harness.name} has no {cap.dtype} dtype")


def diffqr_cell(harness: Harness, cap: Capability) -> Cell:
    unsupported = _unsupported_dtype(harness, cap)
    if unsupported is not None:
        return unsupported
    try:
        error = measure(harness, cap, cap.call, explicit=not harness.autodiff)
    except Exception as exc:  # a failing capability is a table cell, not a crash
        return Cell("FAILED", None, f"{type(exc).__name__}: {exc}"[:300])
    note = "" if harness.forward_mode or not harness.autodiff else "VJP only (no forward mode)"
    return Cell("ok" if error <= TOLERANCE else "FAILED", error, note)


def native_cell(harness: Harness, cap: Capability) -> Cell:
    unsupported = _unsupported_dtype(harness, cap)
    if unsupported is not None:
        return unsupported
    fn = harness.native(cap.native) if cap.native and harness.autodiff else None
    if fn is None:
        return Cell("absent")
    try:
        error = measure(harness, cap, fn, explicit=False, vjp_only=not harness.native_jvp)
    except Exception as exc:
        return Cell("raises", None, f"{type(exc).__name__}: {exc}"[:300])
    return Cell("ok" if error <= TOLERANCE else "wrong", error)


def run_framework(name: str) -> dict:
    """All capabilities on one framework, as a JSON-able dict."""
    harness = next(h for h in harnesses() if h.name == name)
    harness.setup()
    rows = {}
    for cap in CAPABILITIES:
        rows[cap.name] = {"diffqr": asdict(diffqr_cell(harness, cap)),
                          "native": asdict(native_cell(harness, cap))}
    return rows


def _run_in_subprocess(name: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "diffqr", "check", "--framework", name, "--json"],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        failure = {"status": "FAILED", "error": None,
                   "detail": f"{name} check crashed: {proc.stderr.strip()[-300:]}"}
        return {cap.name: {"diffqr": failure, "native": {"status": "absent", "error": None,
                                                       "detail": ""}} for cap in CAPABILITIES}


def _color(text: str, status: str, enabled: bool) -> str:
    if not enabled:
        return text
    code = {"ok": "32", "FAILED": "31", "wrong": "33", "raises": "33"}.get(status, "2")
    return f"\033[{code}m{text}\033[0m"


def render(results: dict[str, dict], color: bool) -> str:
    """One row per capability; per framework the diffqr cell and the native op's status."""
    frameworks = list(results)
    cap_width = max(len(c.name) for c in CAPABILITIES) + 2
    cell_width = 26
    lines = ["capability".ljust(cap_width)
             + "".join(f"{fw} (diffqr | native)".ljust(cell_width) for fw in frameworks)]
    lines.append("-" * len(lines[0]))
    details = []
    notes: dict[str, None] = {}  # ordered set of per-framework remarks (n/a, VJP only)
    for cap in CAPABILITIES:
        line = cap.name.ljust(cap_width)
        for fw in frameworks:
            ours, native = results[fw][cap.name]["diffqr"], results[fw][cap.name]["native"]
            err = "" if ours["error"] is None else f" {ours['error']:.0e}"
            mine = f"{ours['status']}{err}"
            theirs = native["status"]
            plain = f"{mine:<12}| {theirs}"
            line += (_color(f"{mine:<12}", ours["status"], color) + "| "
                     + _color(theirs, theirs, color) + " " * max(cell_width - len(plain), 1))
            if ours["status"] == "FAILED":
                details.append(f"  {fw} / {cap.name}: {ours['detail']}")
            elif ours["detail"]:
                notes.setdefault(f"  {fw}: {ours['detail']}")
        lines.append(line.rstrip())
    failed = len(details)
    skipped = sum(results[fw][cap.name]["diffqr"]["status"] == "n/a"
                  for fw in frameworks for cap in CAPABILITIES)
    total = len(CAPABILITIES) * len(frameworks) - skipped
    verdict = (f"all {total} diffqr cells ok on {', '.join(frameworks)}" if not failed
               else f"{failed} of {total} diffqr cells FAILED")
    if skipped:
        verdict += f" ({skipped} n/a: dtype absent from the framework)"
    lines += ["", "errors: worst relative error of VJP and JVP vs central differences "
              f"(float64/complex128, tolerance {TOLERANCE:g})."]
    lines += [*notes, *details]
    lines.append(_color(verdict, "FAILED" if failed else "ok", color))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Entry point of ``python -m diffqr check [--framework NAME] [--json]``."""
    if "--framework" in argv:
        name = argv[argv.index("--framework") + 1]
        rows = run_framework(name)
        if "--json" in argv:
            print(json.dumps(rows))
            return 0
        results = {name: rows}
    else:
        results = {h.name: _run_in_subprocess(h.name) for h in harnesses()}
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(render(results, color=color))
    failed = any(cell["diffqr"]["status"] not in ("ok", "n/a")
                 for rows in results.values() for cell in rows.values())
    if "--framework" not in argv and "--no-distributed" not in argv:
        failed |= _print_distributed(color)
    return 1 if failed else 0


def _print_distributed(color: bool) -> bool:
    """The diffqr.distributed rows (subprocesses: forced JAX devices, spawned torch ranks);
    True if one failed."""
    from .distributed import rows

    found = rows()
    if not found:
        return False
    print("\ndiffqr.distributed (values vs single device; VJP, and JVP for JAX, vs central "
          "differences; float64 and complex128)")
    failed = False
    for name, cell in found.items():
        error = cell.get("error")
        status = "ok" if isinstance(error, float) and error <= TOLERANCE else "FAILED"
        failed |= status == "FAILED"
        text = f"{status} {error:.0e}" if isinstance(error, float) else f"FAILED {cell['failure']}"
        print(f"  {name:<58}" + _color(text, status, color))
    return failed
