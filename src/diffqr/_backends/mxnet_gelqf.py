"""MXNet fast path: QR's forward by MXNet's own ``gelqf`` where it applies.

``gelqf`` is the LQ of a wide or square matrix, the transposed QR of a deep or square one: the
same LAPACK Householder reflections, so the same gauge as NumPy's ``qr``; it runs float32 in
float32 (NumPy 1.23's ``qr`` runs it in float64) and is the faster kernel for all but tiny
matrices.  ``mx.nd.linalg`` has no other QR (``mx.np.linalg.qr`` is a fallback to official NumPy
that raises under ``autograd.record()``).
"""

from __future__ import annotations

import mxnet as mx

from .. import _tuning


class MXNetGelqf:
    """Mixed in before the MXNet vocabulary: :meth:`native_forward` for the ``"qr"`` primitive."""

    def native_forward(self, primitive, inputs, options, *, adjoint=False):
        """QR's outputs from ``gelqf`` (of ``A``'s transpose with ``adjoint``: LQ), else ``None``.

        Reduced mode only, not inside CholeskyQR, and for a deep ``A`` (transposes around
        ``gelqf``) only from ``MXNET_GELQF_TRANSPOSED_MIN_SIZE`` entries.
        """
        if (primitive.name != "qr" or options["mode"] != "reduced"
                or options["method"] != "householder"):
            return None
        (a,) = inputs
        m, n = a.shape[-2:] if adjoint else a.shape[:-3:-1]  # of the matrix gelqf factors
        if (not 0 < m <= n or 0 in a.shape
                or (not adjoint and m * n < _tuning.MXNET_GELQF_TRANSPOSED_MIN_SIZE)):
            return None
        k = options["rank"]
        with mx.autograd.pause():
            q, l_factor = mx.nd.linalg.gelqf(self.as_nd(a if adjoint else self.mH(a)))
            if k < m:
                q, l_factor = q[..., :k, :], l_factor[..., :k]
            outputs = (q, l_factor) if adjoint else (self.mH(q), self.mH(l_factor))
        return tuple(self.like(a, y) for y in outputs)
