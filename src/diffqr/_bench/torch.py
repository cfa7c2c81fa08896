"""PyTorch side of the benchmark: ``torch.linalg.qr`` and its autograd against ``diffqr.qr``."""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import torch

from .runner import Runner


@contextlib.contextmanager
def _silent_stderr():
    """The profiler's C++ side logs start/stop lines to file descriptor 2; hide them."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TorchRunner(Runner):
    name = "torch"
    module = "torch"

    def setup(self, threads):
        torch.set_num_threads(threads)

    def versions(self):
        blas = "MKL" if torch.backends.mkl.is_available() else "?"
        return {"torch": torch.__version__, "blas": blas, "threads": str(torch.get_num_threads())}

    def asarray(self, x):
        return torch.from_numpy(np.array(x))

    def native_qr(self):
        return lambda a: tuple(torch.linalg.qr(a))

    def forward(self, fn, a):
        with torch.no_grad():
            fn(a)

    def forward_backward(self, fn, a, cotangents):
        a = a.detach().requires_grad_()
        start = self.clock()
        outputs = fn(a)
        middle = self.clock()
        torch.autograd.grad(outputs, a, cotangents)
        return middle - start, self.clock() - middle

    def matmul(self, x, y):
        torch.matmul(x, y)

    def backward_peak_bytes(self, fn, a, cotangents):
        """Peak of the bytes allocated minus freed, from the profiler's memory events."""
        from torch.profiler import ProfilerActivity, profile

        a = a.detach().requires_grad_()
        outputs = fn(a)
        with _silent_stderr(), profile(activities=[ProfilerActivity.CPU],
                                       profile_memory=True) as prof:
            torch.autograd.grad(outputs, a, cotangents)
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        current = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            current += event.nbytes()
            peak = max(peak, current)
        return float(peak)


RUNNER = TorchRunner()
