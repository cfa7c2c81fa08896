"""Distributed QR and lstsq across 3 torch.distributed ranks (gloo, spawned processes), against
single-process diffqr of the gathered matrices, central differences, and a byte count.

One spawn runs every check (torch_worker.py); the join has a timeout, so a hang fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                reason="torch is not installed")
WORLD = 3
# (rows per rank, n): uneven blocks, a rank with fewer rows than n, a rank holding no head row
CASES = [[[4, 1, 7], 3], [[10, 8, 9], 4]]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[dict]:
    import torch.multiprocessing as mp

    sys.path.insert(0, os.path.dirname(__file__))
    import torch_worker

    folder = tmp_path_factory.mktemp("ranks")
    init = f"file://{folder / 'init'}"
    context = mp.start_processes(torch_worker.run, args=(WORLD, init, str(folder / "out"),
                                                         json.dumps(CASES)),
                                 nprocs=WORLD, join=False, start_method="spawn")
    try:
        for _ in range(30):  # 10 s each: at most 5 minutes
            if context.join(timeout=10):
                break
        else:
            pytest.fail("the ranks did not finish within the timeout (a hang)")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    out = [json.loads((folder / f"out.{rank}").read_text()) for rank in range(WORLD)]
    for rank_result in out:
        assert "exception" not in rank_result, rank_result["exception"]
    return out


def _tolerance(key: str) -> float:
    return 1e-5 if ("float32" in key or "complex64" in key) else 1e-12


def test_values_and_gradients_match_single_process(results):
    checked = 0
    for rank_result in results:
        for key, entry in rank_result.items():
            if key.startswith(("qr ", "lstsq ")):
                tol = _tolerance(key)
                for what in ("q", "r", "x"):
                    if what in entry:
                        assert entry[what] <= tol, (key, what, entry)
                assert entry["grad"] <= tol * max(1.0, entry["scale"]), (key, entry)
                checked += 1
    assert checked == WORLD * (2 * len(CASES) * 4 + 1)


def test_gradient_matches_central_differences(results):
    fd, ad = results[0]["fd"]["fd"], results[0]["fd"]["ad"]
    assert abs(fd - ad) <= 1e-7 * abs(ad)
    assert all(r["fd"] == results[0]["fd"] for r in results)


def test_only_n_by_n_matrices_travel(results):
    """Bytes sent per rank are independent of the rows: QR sends [head; R] (2n × n) and, in the
    backward, one n × n all-reduce; lstsq one (n + r)-wide R and one n × r all-reduce."""
    for rank_result in results:
        for key, entry in rank_result.items():
            if not key.startswith(("qr ", "lstsq ")):
                continue
            n = int(key.split("] ")[1].split()[0])
            size = 16 if "complex128" in key else 8 if ("float64" in key or "complex64" in key) \
                else 4
            kinds = [kind for kind, _ in entry["messages"]]
            if key.startswith("qr "):
                assert entry["messages"] == [["all_gather", [2 * n, n]], ["all_reduce", [n, n]]]
                assert entry["bytes"] == 3 * n * n * size
            else:
                assert kinds == ["all_gather", "all_reduce"], entry["messages"]
                assert all(max(shape) <= n + 2 for _, shape in entry["messages"])


@pytest.mark.parametrize("case, words", [
    ("different n", ["columns n", "rank 0: 4"]), ("different dtype", ["dtype"]),
    ("wide", ["wide"]), ("B rows", ["B_loc", "rank 0"]), ("1-D A", ["A_loc", "2-D"]),
    ("rank deficient", ["RankDeficientError"])])
def test_bad_input_raises_on_every_rank(results, case, words):
    messages = [r[f"error {case}"] for r in results]
    assert all(m == messages[0] for m in messages), messages
    assert all(w in messages[0] for w in words), messages[0]
