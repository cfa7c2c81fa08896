"""diffqr: differentiable QR, LQ and least squares in every major array framework.

Same array type in, same type out, differentiable in that framework's own autodiff; explicit
reverse- and forward-mode rules for frameworks without one.
"""

from ._api import lq, lq_jvp, lq_vjp, lstsq, lstsq_jvp, lstsq_vjp, qr, qr_jvp, qr_vjp
from ._errors import RankDeficientError
from ._results import LQResult, PivotedLQResult, PivotedQRResult, QRResult

__version__ = "0.1.0"

__all__ = [
    "LQResult",
    "PivotedLQResult",
    "PivotedQRResult",
    "QRResult",
    "RankDeficientError",
    "lq",
    "lq_jvp",
    "lq_vjp",
    "lstsq",
    "lstsq_jvp",
    "lstsq_vjp",
    "qr",
    "qr_jvp",
    "qr_vjp",
]
