"""diffqr: differentiable QR, LQ and least squares in every major array framework.

Same array type in, same type out, differentiable in that framework's own autodiff; explicit
reverse- and forward-mode rules for frameworks without one.
"""

from ._decompositions import lq, lstsq, qr
from ._errors import RankDeficientError
from ._explicit_rules import lq_jvp, lq_vjp, lstsq_jvp, lstsq_vjp, qr_jvp, qr_vjp
from ._results import LQResult, PivotedLQResult, PivotedQRResult, PivotedRResult, QRResult
from ._tria import tria
from ._tuning import fast_paths

__version__ = "0.1.0"

__all__ = [
    "LQResult",
    "PivotedLQResult",
    "PivotedQRResult",
    "PivotedRResult",
    "QRResult",
    "RankDeficientError",
    "fast_paths",
    "lq",
    "lq_jvp",
    "lq_vjp",
    "lstsq",
    "lstsq_jvp",
    "lstsq_vjp",
    "qr",
    "qr_jvp",
    "qr_vjp",
    "tria",
]

# Inside tf.function, AutoGraph would rewrite every diffqr function it reaches into graph code, at
# a cost of seconds per first trace, for nothing: diffqr never branches on tensor values.  This
# attribute (what tf.autograph.experimental.do_not_convert sets) makes it call them as they are.
for _name in __all__:
    if callable(globals()[_name]) and not isinstance(globals()[_name], type):
        globals()[_name].autograph_info__ = None
del _name
