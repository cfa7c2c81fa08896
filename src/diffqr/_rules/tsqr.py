"""TSQR on row blocks held by different devices or processes, and its derivatives, written once.

Each device (rank) holds a row block ``A_i`` of the global ``A`` (m × n, m ≥ n) and runs the same
program; they talk only through a :class:`Collectives` object (JAX: ``psum``/``all_gather``
inside ``shard_map``; PyTorch: ``torch.distributed``).  Only ``n × n``-sized matrices travel.

Forward (``A = Q R`` in LAPACK's gauge, identical to a Householder QR of the gathered ``A``):
each rank splits its block into its *head* (its rows among the first ``n`` global rows, placed at
their global positions in an ``n × n`` matrix) and its *tail* (the other rows), factors the tail
locally ``T_i = Q_i R_i``, and all-gathers ``[head_i; R_i]``.  Every rank then factors the same
stack ``S = [Σ head_i; R_0; …; R_{p−1}] = Q_S R`` and keeps ``Q_loc = Eᵢᴴ Q_S[head] + Q_i
Q_S[block i]``.  Why the gauge is LAPACK's: Householder QR of ``A`` is unchanged by a unitary
transformation of the rows below the first ``n`` (every reflector's pivot lies in the first ``n``
rows, the column norms below them are invariant), and ``S`` is ``A`` with such a transformation
(``blockdiag(I, Q_0ᴴ, …, Q_{p−1}ᴴ)``, zero rows dropped).

Derivatives: the single-device rules of :mod:`.qr` and :mod:`.lstsq` on the global factors, where
every product over the rows (``Qᴴ dA``, ``Q̄ᴴ Q``, ``Aᴴ (…)``) is a local product plus one
all-reduce of an ``n × n`` (or ``n × r``) matrix.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._backends.base import Backend
from . import lstsq as lstsq_rules
from .qr import _m_matrix, copyltu, upper_from_skew

Array = Any


class Collectives(Protocol):
    """What a rule needs from the communication layer (every rank calls it in the same order)."""

    size: int  # number of ranks along the axis

    def all_gather(self, x: Array) -> Array:
        """The ranks' ``x`` (equal shapes) stacked along the rows (axis −2), in rank order."""

    def all_reduce(self, x: Array) -> Array:
        """The sum over the ranks of ``x``."""

    def own_block(self, stacked: Array, rows: int) -> Array:
        """Rows ``[i·rows, (i+1)·rows)`` of ``stacked``, ``i`` this rank's index."""

    def head_selector(self, a: Array, n: int, block_rows: int) -> Array:
        """``E`` (n × rows of ``a``, ``a``'s dtype; ``a`` is the top of this rank's block of
        ``block_rows`` rows): ``E[g, l] = 1`` where local row ``l`` is global row ``g < n``."""


def _padded_qr(xp: Backend, a: Array, n: int) -> tuple[Array, Array]:
    """Reduced QR of a local block, padded to ``Q`` (m_i × n) and ``R`` (n × n) when m_i < n
    (zero columns of ``Q``, zero rows of ``R``: still ``a = Q R``)."""
    q, r = xp.householder_qr(a, complete=False)
    missing = n - xp.shape(r)[-2]
    if missing > 0:
        zeros = xp.zeros_like(xp.eye_like(r, n)[:missing, :])
        r = xp.concat([r, zeros], axis=-2)
        q = xp.concat([q, xp.zeros_like(a[:, :missing])], axis=-1)
    return q, r


def qr_forward(xp: Backend, comm: Collectives, a: Array) -> tuple[Array, Array]:
    """``(Q_loc, R)``: this rank's rows of ``Q`` and the replicated ``R`` (module docstring).

    Only the first ``k = min(m_i, n)`` local rows can be global rows ``< n``: the head selector
    is ``n × k``, so the head costs ``O(n³)``, not a product over every local row.
    """
    n = xp.shape(a)[-1]
    k = min(xp.shape(a)[-2], n)
    e = comm.head_selector(a[:k], n, xp.shape(a)[-2])
    head = xp.matmul(e, a[:k])
    tail = xp.concat([a[:k] - xp.matmul(xp.mH(e), head), a[k:]], axis=-2)
    q_tail, r_tail = _padded_qr(xp, tail, n)
    stacked = comm.all_gather(xp.concat([head, r_tail], axis=-2))
    heads = stacked[0:n]
    for i in range(1, comm.size):
        heads = heads + stacked[2 * i * n:(2 * i + 1) * n]
    tails = [stacked[(2 * i + 1) * n:(2 * i + 2) * n] for i in range(comm.size)]
    q_s, r = xp.householder_qr(xp.concat([heads, *tails], axis=-2), complete=False)
    q = xp.matmul(q_tail, comm.own_block(q_s[n:], n))
    return xp.concat([q[:k] + xp.matmul(xp.mH(e), q_s[:n]), q[k:]], axis=-2), r


def qr_jvp(xp: Backend, comm: Collectives, q: Array, r: Array, da: Array
           ) -> tuple[Array, Array]:
    """``(dQ_loc, dR)`` of :func:`diffqr._rules.qr.qr_jvp` (deep, reduced), with ``Qᴴ dA R⁻¹``
    all-reduced: ``U = upper_from_skew(Σ Q_iᴴ dA_i R⁻¹)``, ``dR = U R``, ``dQ = dA R⁻¹ − Q U``."""
    y = xp.solve_triangular(r, da, upper=True, left=False)
    u = upper_from_skew(xp, comm.all_reduce(xp.matmul(xp.mH(q), y)))
    return y - xp.matmul(q, u), xp.matmul(u, r)


def qr_vjp(xp: Backend, comm: Collectives, q: Array, r: Array, q_bar: Array, r_bar: Array,
           *, summed: bool) -> Array:
    """``Ā_loc = (Q̄_loc + Q_loc copyltu(M)) R⁻ᴴ`` with ``M = R R̄ᴴ − Σ Q̄_iᴴ Q_i``.

    ``summed``: each rank holds its own cotangent of the replicated ``R`` and the global one is
    their sum (PyTorch's convention); else ``r_bar`` is the global cotangent on every rank (JAX).
    Either way one all-reduce of an ``n × n`` matrix.
    """
    if summed:
        m = comm.all_reduce(_m_matrix(xp, q, r, q_bar, r_bar))
    else:
        m = xp.matmul(r, xp.mH(r_bar)) - comm.all_reduce(xp.matmul(xp.mH(q_bar), q))
    g = xp.addmm(q_bar, q, copyltu(xp, m))
    return xp.solve_triangular(r, g, upper=True, left=False, adjoint=True)


# ---------------------------------------------------------------------- least squares


def r_factor(xp: Backend, comm: Collectives, a: Array) -> Array:
    """A triangular factor of the global ``A`` (any diagonal gauge): local ``R_i``, gathered,
    factored again."""
    w = xp.shape(a)[-1]
    r = xp.qr_r(a)
    missing = w - xp.shape(r)[-2]
    if missing > 0:
        r = xp.concat([r, xp.zeros_like(xp.eye_like(r, w)[:missing, :])], axis=-2)
    return xp.qr_r(comm.all_gather(r))


def lstsq_forward(xp: Backend, comm: Collectives, a: Array, b: Array) -> tuple[Array, Array]:
    """``(X, R)``: ``X = R⁻¹ Qᴴ B`` from the TSQR factor of ``[A | B]`` (as the single-device
    :func:`diffqr._rules.lstsq.solve_forward`), ``R`` the factor of ``A``, both replicated."""
    n = xp.shape(a)[-1]
    r_aug = r_factor(xp, comm, xp.concat([a, b], axis=-1))
    r = r_aug[:n, :n]
    r = lstsq_rules.check_solvable(xp, r, max(xp.shape(r_aug)[-1], n), dual=False)
    return xp.solve_triangular(r, r_aug[:n, n:], upper=True), r


def gram_solver(xp: Backend, comm: Collectives | None, r: Array) -> lstsq_rules.Solve:
    """``solve(·, ·, V) = (Aᴴ A)⁻¹ Σ V_i`` (``comm`` None: ``V`` is global already)."""

    def solve(_m: Array, _lam: None, v: Array) -> Array:
        return lstsq_rules.gram_solve_forward(xp, r, v if comm is None else comm.all_reduce(v))

    return solve


def lstsq_jvp(xp: Backend, comm: Collectives, a: Array, b: Array, x: Array, r: Array,
              da: Array | None, db: Array | None) -> Array:
    """The single-device rule; its ``Aᴴ (…)`` right-hand side is summed over the ranks."""
    return lstsq_rules.lstsq_jvp(xp, gram_solver(xp, comm, r), a, None, b, x, da, None, db,
                                 dual=False)


def lstsq_vjp(xp: Backend, comm: Collectives | None, a: Array, b: Array, x: Array, r: Array,
              x_bar: Array) -> tuple[Array, Array]:
    """``(Ā_loc, B̄_loc)`` by the single-device rule: ``Z = (Aᴴ A)⁻¹ X̄`` with ``X̄`` summed over
    the ranks (``comm``; None when ``x_bar`` is global), ``B̄ = A Z``,
    ``Ā = (B − A X) Zᴴ − B̄ Xᴴ``."""
    a_bar, _, b_bar = lstsq_rules.lstsq_vjp(xp, gram_solver(xp, comm, r), a, None, b, x, x_bar,
                                            dual=False)
    return a_bar, b_bar
