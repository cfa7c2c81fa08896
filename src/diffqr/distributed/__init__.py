"""Differentiable QR and least squares of a tall matrix whose rows are spread over devices or
processes: TSQR, where only ``n × n`` matrices travel (see docs/guides/distributed.md).

JAX: ``A`` is a ``jax.Array`` with its rows sharded over one mesh axis,
``NamedSharding(mesh, P(axis, None))`` (or a tracer of one inside ``jax.jit``)::

    Q, R = dd.qr(A, mesh=mesh, axis="rows")        # Q sharded like A, R (n × n) replicated
    X    = dd.lstsq(A, B, mesh=mesh, axis="rows")   # B's rows sharded like A's; X replicated

PyTorch: inside an initialized ``torch.distributed`` process group each rank passes its own row
block (uneven blocks and blocks with fewer than ``n`` rows work)::

    Q_loc, R = dd.qr(A_loc, group=None)             # this rank's rows of Q; R on every rank
    X        = dd.lstsq(A_loc, B_loc, group=None)   # X on every rank
"""

from __future__ import annotations

from typing import Any

from .._dispatch import framework_of
from .._results import QRResult

__all__ = ["lstsq", "qr", "traffic"]


def _framework(a: Any) -> str:
    kind = framework_of(a)
    if kind not in ("jax", "torch"):
        raise TypeError(f"A must be a jax.Array (sharded over a mesh axis) or a torch.Tensor (this "
                        f"rank's row block); got {type(a).__name__}. For Dask arrays use "
                        "diffqr.qr, which runs TSQR over the chunks")
    return kind


def _jax_arguments(mesh: Any, axis: Any, group: Any) -> None:
    if mesh is None or axis is None:
        raise ValueError("with a jax.Array, pass mesh= (a jax.sharding.Mesh) and axis= (the name "
                         "of the mesh axis A's rows are sharded over)")
    if group is not None:
        raise ValueError("group= is for torch tensors; with a jax.Array pass mesh= and axis=")


def _torch_arguments(mesh: Any, axis: Any) -> None:
    if mesh is not None or axis is not None:
        raise ValueError("mesh= and axis= are for jax arrays; with torch tensors each rank passes "
                         "its row block and optionally group=")


def qr(A: Any, /, *, mesh: Any = None, axis: str | None = None, group: Any = None) -> QRResult:
    """Reduced QR of a tall matrix whose rows are distributed, differentiable.

    Parameters
    ----------
    A : jax.Array or torch.Tensor
        JAX: the global ``m × n`` matrix (``m ≥ n``) with rows sharded over ``axis`` of ``mesh``
        (``m`` divisible by the axis size).  PyTorch: this rank's row block ``m_i × n``; the
        global matrix is the blocks in rank order.  float32, float64, complex64, complex128.
    mesh : jax.sharding.Mesh, optional
        JAX only: the device mesh.
    axis : str, optional
        JAX only: the mesh axis the rows are sharded over.
    group : torch.distributed.ProcessGroup, optional
        PyTorch only: the process group (default: the world).

    Returns
    -------
    QRResult
        ``(Q, R)``: ``Q`` row-distributed like ``A`` (JAX: sharded; PyTorch: this rank's rows),
        ``R`` (``n × n``) replicated; equal to :func:`diffqr.qr` of the gathered matrix to rounding,
        in its (LAPACK's) diagonal gauge.

    Raises
    ------
    ValueError
        A mesh axis that does not exist, ``A`` sharded over its columns, a wide global matrix,
        ranks passing different ``n`` or dtypes (PyTorch: every rank raises).
    """
    if _framework(A) == "jax":
        _jax_arguments(mesh, axis, group)
        from . import _jax

        return QRResult(*_jax.qr(A, mesh, axis))
    _torch_arguments(mesh, axis)
    from . import _torch

    return QRResult(*_torch.qr(A, group))


def lstsq(A: Any, B: Any, /, *, mesh: Any = None, axis: str | None = None, group: Any = None
          ) -> Any:
    """Least-squares solution ``X = argmin ‖A X − B‖`` of a tall, full-column-rank, row-distributed
    ``A``, differentiable in ``A`` and ``B``.

    Parameters
    ----------
    A : jax.Array or torch.Tensor
        As in :func:`qr`.
    B : jax.Array or torch.Tensor
        ``m × r`` (or ``m``) right-hand sides, rows distributed exactly like ``A``'s, same dtype.
    mesh, axis, group
        As in :func:`qr`.

    Returns
    -------
    jax.Array or torch.Tensor
        ``X`` (``n × r`` or ``n``), replicated: equal to :func:`diffqr.lstsq` of the gathered
        matrices to rounding.
    """
    if _framework(A) == "jax":
        _jax_arguments(mesh, axis, group)
        from . import _jax

        return _jax.lstsq(A, B, mesh, axis)
    _torch_arguments(mesh, axis)
    from . import _torch

    return _torch.lstsq(A, B, group)


def traffic() -> Any:
    """Context manager counting the bytes this torch rank sends through diffqr's collectives::

        with dd.traffic() as sent:
            Q, R = dd.qr(A_loc); loss.backward()
        sent.bytes_sent, sent.messages        # [("all_gather", (2n, n)), ("all_reduce", ...)]
    """
    from . import _torch

    return _torch.traffic()
