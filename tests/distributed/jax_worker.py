"""The JAX checks, run in one subprocess with 4 forced host devices (test_jax.py starts it).

Prints one JSON object: ``{"errors": {check: [error, tolerance]}, "messages": {case: text},
"collectives": [result shapes of the compiled collectives]}``.  Oracles: single-device diffqr on
the same (gathered) matrix, and central differences in float64.
"""

from __future__ import annotations

import json
import os
import re

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import diffqr
from diffqr import distributed as dd

jax.config.update("jax_enable_x64", True)
EPS = {"float32": 1e-6, "complex64": 1e-6, "float64": 1e-15, "complex128": 1e-15}
RESULT: dict = {"errors": {}, "messages": {}, "collectives": []}


def record(name, error, tol):
    RESULT["errors"][name] = [float(error), float(tol)]


def err(x, y):
    return float(jnp.max(jnp.abs(jnp.asarray(x) - jnp.asarray(y))))


def matrix(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        x = x + 1j * rng.standard_normal(shape)
    return jnp.asarray(x.astype(dtype))


def losses(mesh, m):
    weight = jnp.arange(m)[:, None] % 3 + 0.5

    def qr_loss(qr):
        def loss(a):
            q, r = qr(a)
            return jnp.sum(jnp.abs(q) ** 2 * weight) + jnp.sum(jnp.real(q)) + jnp.sum(jnp.real(r))
        return loss

    def lstsq_loss(lstsq):
        return lambda a, b: jnp.sum(jnp.abs(lstsq(a, b) - 0.3) ** 2)

    return (qr_loss(lambda a: dd.qr(a, mesh=mesh, axis="rows")), qr_loss(diffqr.qr),
            lstsq_loss(lambda a, b: dd.lstsq(a, b, mesh=mesh, axis="rows")),
            lstsq_loss(diffqr.lstsq))


def check_case(mesh, label, m, n, dtype, rng, full=True):
    rows = NamedSharding(mesh, P("rows", None))
    a0, b0 = matrix(rng, (m, n), dtype), matrix(rng, (m, 2), dtype)
    da, db = matrix(rng, (m, n), dtype), matrix(rng, (m, 2), dtype)
    a, b = jax.device_put(a0, rows), jax.device_put(b0, rows)
    tol = 100 * EPS[dtype] * n
    key = f"{label} {m}x{n} {dtype}"
    q, r = dd.qr(a, mesh=mesh, axis="rows")
    q1, r1 = diffqr.qr(a0)
    record(f"{key} qr values", max(err(q, q1), err(r, r1)), tol)
    record(f"{key} Q sharded like A", 0.0 if q.sharding.is_equivalent_to(rows, 2) else 1.0, 0.5)
    record(f"{key} lstsq values", err(dd.lstsq(a, b, mesh=mesh, axis="rows"),
                                      diffqr.lstsq(a0, b0)), tol)
    qr_loss, qr_loss1, lstsq_loss, lstsq_loss1 = losses(mesh, m)
    record(f"{key} qr grad (jit)", err(jax.jit(jax.grad(qr_loss))(a), jax.grad(qr_loss1)(a0)),
           tol * 10)
    if not full:  # single precision: values and gradient only (compiling costs time)
        return
    t, t1 = (jax.jvp(lambda x: dd.qr(x, mesh=mesh, axis="rows"), (a,), (da,))[1],
             jax.jvp(diffqr.qr, (a0,), (da,))[1])
    record(f"{key} qr jvp", max(err(t[0], t1[0]), err(t[1], t1[1])), tol * 10)
    cot1 = (matrix(rng, (m, n), dtype), matrix(rng, (n, n), dtype))
    cot = (jax.device_put(cot1[0], rows), jax.device_put(cot1[1], NamedSharding(mesh, P())))
    v = jax.vjp(lambda x: tuple(dd.qr(x, mesh=mesh, axis="rows")), a)[1](cot)[0]
    v1 = jax.vjp(lambda x: tuple(diffqr.qr(x)), a0)[1](cot1)[0]
    record(f"{key} qr vjp", err(v, v1), tol * 10)
    g, g1 = jax.grad(lstsq_loss, (0, 1))(a, b), jax.grad(lstsq_loss1, (0, 1))(a0, b0)
    record(f"{key} lstsq grad", max(err(g[0], g1[0]), err(g[1], g1[1])), tol * 10)
    record(f"{key} lstsq grad in A alone", err(jax.jit(jax.grad(lstsq_loss))(a, b), g1[0]),
           tol * 10)
    t = jax.jvp(lambda y: dd.lstsq(a, y, mesh=mesh, axis="rows"), (b,), (db,))[1]
    record(f"{key} lstsq jvp in B alone",
           err(t, jax.jvp(lambda y: diffqr.lstsq(a0, y), (b0,), (db,))[1]), tol * 10)
    t = jax.jvp(lambda x, y: dd.lstsq(x, y, mesh=mesh, axis="rows"), (a, b), (da, db))[1]
    record(f"{key} lstsq jvp", err(t, jax.jvp(diffqr.lstsq, (a0, b0), (da, db))[1]), tol * 10)


def check_finite_differences(mesh, rng):
    m, n, h = 40, 3, 1e-6
    rows = NamedSharding(mesh, P("rows", None))
    qr_loss, _, lstsq_loss, _ = losses(mesh, m)
    for dtype in ("float64", "complex128"):
        a, b = jax.device_put(matrix(rng, (m, n), dtype), rows), jax.device_put(
            matrix(rng, (m, 2), dtype), rows)
        da, db = matrix(rng, (m, n), dtype), matrix(rng, (m, 2), dtype)
        fd = (qr_loss(a + h * da) - qr_loss(a - h * da)) / (2 * h)
        # JAX's grad of a real loss in a complex input is conj(∂ℓ/∂Re + i ∂ℓ/∂Im)
        ad = jnp.real(jnp.sum(jax.grad(qr_loss)(a) * da))
        record(f"fd qr {dtype}", abs(fd - ad) / abs(ad), 1e-7)
        fd = (lstsq_loss(a + h * da, b + h * db) - lstsq_loss(a - h * da, b - h * db)) / (2 * h)
        ga, gb = jax.grad(lstsq_loss, (0, 1))(a, b)
        ad = jnp.real(jnp.sum(ga * da) + jnp.sum(gb * db))
        record(f"fd lstsq {dtype}", abs(fd - ad) / abs(ad), 1e-7)


def check_hlo(mesh, rng):
    """Compiled programs (forward, grad, jvp): every collective's result is a few n × n blocks."""
    m, n = 4000, 3
    rows = NamedSharding(mesh, P("rows", None))
    a, b = (jax.device_put(matrix(rng, (m, k), "float64"), rows) for k in (n, 2))
    qr_loss, _, lstsq_loss, _ = losses(mesh, m)
    programs = {
        "qr": (lambda x: dd.qr(x, mesh=mesh, axis="rows"), (a,)),
        "qr grad": (jax.grad(qr_loss), (a,)),
        "qr jvp": (lambda x: jax.jvp(lambda y: dd.qr(y, mesh=mesh, axis="rows"), (x,), (x,)),
                   (a,)),
        "lstsq grad": (jax.grad(lstsq_loss, (0, 1)), (a, b)),
    }
    pattern = re.compile(r"=\s*\(?([a-z0-9]+\[[0-9,]*\])[^=]*?\b(all-gather|all-reduce|"
                         r"all-to-all|collective-permute|reduce-scatter)(-start)?\(")
    for name, (f, args) in programs.items():
        text = jax.jit(f).lower(*args).compile().as_text()
        found = [(kind, shape) for shape, kind, _ in pattern.findall(text)]
        RESULT["collectives"].append([name, found])


def check_errors(mesh):
    a = jax.device_put(jnp.ones((8, 3)), NamedSharding(mesh, P("rows", None)))
    cases = {
        "bad axis": lambda: dd.qr(a, mesh=mesh, axis="columns"),
        "column sharding": lambda: dd.qr(jax.device_put(jnp.ones((8, 4)),
                                                        NamedSharding(mesh, P(None, "rows"))),
                                         mesh=mesh, axis="rows"),
        "B rows": lambda: dd.lstsq(a, jnp.ones((12, 1)), mesh=mesh, axis="rows"),
        "wide": lambda: dd.qr(jnp.ones((4, 6)), mesh=mesh, axis="rows"),
        "indivisible rows": lambda: dd.qr(jnp.ones((6, 2)), mesh=mesh, axis="rows"),
        "missing mesh": lambda: dd.qr(a, axis="rows"),
    }
    for name, call in cases.items():
        try:
            call()
            RESULT["messages"][name] = "no error"
        except (ValueError, TypeError) as error:
            RESULT["messages"][name] = f"{type(error).__name__}: {error}"


def main():
    rng = np.random.default_rng(0)
    auto = Mesh(np.array(jax.devices()[:4]), ("rows",))  # automatic axes, on every JAX
    for dtype in ("float64", "complex128", "float32", "complex64"):
        check_case(auto, "auto", 40, 3, dtype, rng, full=dtype.endswith("128") or
                   dtype == "float64")
    check_case(auto, "auto, shards of 2 rows < n", 8, 5, "float64", rng)
    check_case(auto, "auto, square", 12, 12, "complex128", rng)
    RESULT["explicit_axes"] = hasattr(jax.sharding, "AxisType") and (
        hasattr(jax.sharding, "use_mesh") or hasattr(jax, "set_mesh"))
    if RESULT["explicit_axes"]:
        explicit = jax.make_mesh((4,), ("rows",),
                                 axis_types=(jax.sharding.AxisType.Explicit,))
        with jax.sharding.use_mesh(explicit) if hasattr(jax.sharding, "use_mesh") else (
                jax.set_mesh(explicit)):
            check_case(explicit, "explicit", 40, 3, "float64", rng)
    check_finite_differences(auto, rng)
    check_hlo(auto, rng)
    check_errors(auto)
    print(json.dumps(RESULT))


if __name__ == "__main__":
    main()
