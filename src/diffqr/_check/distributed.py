"""The ``diffqr.distributed`` rows of ``python -m diffqr check``.

JAX runs in a subprocess with 4 forced host devices (``XLA_FLAGS`` is read when JAX starts);
PyTorch spawns 2 gloo ranks with uneven row blocks.  Each row: the worst relative error of the
values against single-device diffqr, of the JVP (JAX) against central differences, and of the VJP
by the adjoint identity against the same differences, in float64 and complex128.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

import numpy as np

from .._verify import adjoint_error, central_difference, random_matrix, relative_error

SHAPE, RHS, DTYPES = (24, 4), 2, ("float64", "complex128")
ROWS = {"jax": "JAX shard_map, 4 devices", "torch": "torch.distributed, 2 gloo ranks"}
TIMEOUT = 600


def _errors(call: Callable, reference: Callable, vjp: Callable, jvp: Callable | None,
            inputs: list[np.ndarray], rng: np.random.Generator) -> float:
    """Values vs ``reference``; VJP (adjoint identity) and JVP vs central differences."""
    outputs = call(*inputs)
    tangents = [random_matrix(rng, x.shape, x.dtype.name) for x in inputs]
    cotangents = [random_matrix(rng, y.shape, y.dtype.name) for y in outputs]
    fd = central_difference(call, inputs, tangents)
    errors = [relative_error(outputs, reference(*inputs)),
              adjoint_error(vjp(inputs, cotangents), tangents, cotangents, fd)]
    if jvp is not None:
        errors.append(relative_error(jvp(inputs, tangents), fd))
    return max(errors)


def _jax_rows() -> dict[str, float]:
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import diffqr
    from diffqr import distributed as dd

    jax.config.update("jax_enable_x64", True)
    mesh = Mesh(np.array(jax.devices()[:4]), ("rows",))  # automatic axes, on every JAX
    rows = NamedSharding(mesh, P("rows", None))

    def lift(f):
        def g(*xs):
            return tuple(f(*(jax.device_put(jnp.asarray(x), rows) for x in xs)))
        return g

    def numpy(f):
        return lambda *xs: [np.asarray(y) for y in lift(f)(*xs)]

    def vjp(f):
        def pull(xs, cts):
            _, back = jax.vjp(lift(f), *xs)
            return [np.conj(np.asarray(g)) for g in back(tuple(np.conj(c) for c in cts))]
        return pull

    def jvp(f):
        return lambda xs, ts: [np.asarray(t) for t in jax.jvp(lift(f), tuple(xs), tuple(ts))[1]]

    functions = {
        "QR": (lambda a: dd.qr(a, mesh=mesh, axis="rows"), lambda a: diffqr.qr(a)),
        "lstsq": (lambda a, b: (dd.lstsq(a, b, mesh=mesh, axis="rows"),),
                  lambda a, b: (diffqr.lstsq(a, b),)),
    }
    rng, result = np.random.default_rng(0), {}
    for name, (f, ref) in functions.items():
        result[name] = max(
            _errors(numpy(f), lambda *xs, ref=ref: [np.asarray(y) for y in ref(*map(jnp.asarray,
                                                                                  xs))],
                    vjp(f), jvp(f), _inputs(name, rng, dtype), rng)
            for dtype in DTYPES)
    return result


def _inputs(name: str, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    a = random_matrix(rng, SHAPE, dtype)
    return [a] if name == "QR" else [a, random_matrix(rng, (SHAPE[0], RHS), dtype)]


def _torch_rank(rank: int, world: int, init: str, path: str) -> None:
    """One rank: the VJP through every rank's backward, summed with an all-reduce."""
    import torch
    import torch.distributed as dist

    import diffqr
    from diffqr import distributed as dd

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    counts = [SHAPE[0] // 3, SHAPE[0] - SHAPE[0] // 3]  # uneven blocks
    start = sum(counts[:rank])
    local = slice(start, start + counts[rank])

    def call(f):
        def run(*xs):
            parts = f(*(torch.from_numpy(x[local]) for x in xs))
            return [_gather(p, local, SHAPE[0], dist) for p in parts]
        return run

    def vjp(f):
        def pull(xs, cts):
            leaves = [torch.from_numpy(x[local]).requires_grad_(True) for x in xs]
            outs = f(*leaves)
            loss = sum((torch.from_numpy(c[local] if o.shape[0] == counts[rank] else c / world)
                        .conj() * o).real.sum() for o, c in zip(outs, cts, strict=True))
            loss.backward()
            return [_gather(x.grad, local, SHAPE[0], dist) for x in leaves]
        return pull

    functions = {"QR": (lambda a: dd.qr(a), diffqr.qr),
                 "lstsq": (lambda a, b: (dd.lstsq(a, b),), lambda a, b: (diffqr.lstsq(a, b),))}
    rng, result = np.random.default_rng(0), {}
    for name, (f, ref) in functions.items():
        result[name] = max(
            _errors(call(f), lambda *xs, ref=ref: [y.numpy() for y in ref(*map(torch.from_numpy,
                                                                             xs))],
                    vjp(f), None, _inputs(name, rng, dtype), rng)
            for dtype in DTYPES)
    dist.destroy_process_group()
    if rank == 0:
        with open(path, "w") as f:
            json.dump(result, f)


def _gather(part, local: slice, m: int, dist) -> np.ndarray:
    """The global array from every rank's row block (replicated outputs: as they are)."""
    import torch

    part = part.detach()
    if part.shape[0] == m or part.shape[0] != local.stop - local.start:
        return part.numpy()
    full = torch.zeros((m, *part.shape[1:]), dtype=part.dtype)
    full[local] = part
    dist.all_reduce(full)
    return full.numpy()


def _torch_rows() -> dict[str, float]:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "result.json")
        mp.start_processes(_torch_rank, args=(2, f"file://{folder}/init", path), nprocs=2,
                           start_method="spawn")
        with open(path) as f:
            return json.load(f)


def rows() -> dict[str, dict[str, float | str]]:
    """``{row name: {"error": worst error} or {"failure": text}}``, each framework in a
    subprocess under a timeout; frameworks that are not installed are left out."""
    import importlib.util

    out: dict[str, dict[str, float | str]] = {}
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    for framework, label in ROWS.items():
        if importlib.util.find_spec(framework) is None:
            continue
        stderr = ""
        try:
            proc = subprocess.run([sys.executable, "-m", __name__, framework], env=env,
                                  capture_output=True, text=True, timeout=TIMEOUT, check=False)
            stderr = proc.stderr
            found = json.loads(proc.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as error:
            found = {name: f"{type(error).__name__}: {stderr[-300:]}" for name in ("QR", "lstsq")}
        for name, value in found.items():
            key = f"distributed {name} ({label})"
            out[key] = {"error": value} if isinstance(value, float) else {"failure": value}
    return out


if __name__ == "__main__":
    print(json.dumps(_jax_rows() if sys.argv[1] == "jax" else _torch_rows()))
