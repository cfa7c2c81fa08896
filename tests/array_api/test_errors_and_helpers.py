"""Clear errors for array-api-strict input, dispatch order, and the standard-only building blocks
(blocked triangular solve, pivots) on larger matrices than the capability tests use."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from strict_arrays import CPU, assert_strict, to_device, to_host, xp

import diffqr
from diffqr._backends import array_api_linalg
from diffqr._dispatch import backend_for
from diffqr._verify import random_matrix


def test_integer_dtype_is_a_type_error(device):
    a = xp.ones((3, 2), dtype=xp.int64, device=device)
    with pytest.raises(TypeError, match="A has dtype int64"):
        diffqr.qr(a)


def test_namespace_without_linalg_is_a_type_error(rng):
    a = to_device(random_matrix(rng, (3, 2)), CPU)
    xp.set_array_api_strict_flags(enabled_extensions=("fft",))
    try:
        with pytest.raises(TypeError, match="no linalg extension"):
            diffqr.qr(a)
    finally:
        xp.reset_array_api_strict_flags()
    assert_strict(diffqr.qr(a).Q, CPU)  # and back once it is enabled


def test_mixed_namespaces_and_devices(rng):
    a = random_matrix(rng, (4, 3))
    with pytest.raises(TypeError, match="one framework"):
        diffqr.lstsq(to_device(a, CPU), a[:, 0])
    with pytest.raises(ValueError, match="one device"):
        diffqr.lstsq(to_device(a, CPU), to_device(a[:, 0], xp.Device("device1")))


def test_non_finite_input(rng, device):
    a = random_matrix(rng, (4, 3))
    a[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        diffqr.qr(to_device(a, device))
    q, _ = diffqr.qr(to_device(a, device), check_finite=False)  # skipped on request
    assert_strict(q, device)


def test_rank_deficiency_is_detected_on_the_device(rng, device):
    a = random_matrix(rng, (6, 3))
    a[:, 1] = 2 * a[:, 0]
    q, r = diffqr.qr(to_device(a, device))
    with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
        diffqr.qr_vjp(to_device(a, device), q, r, None, r)
    b = to_device(random_matrix(rng, (6,)), device)
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        diffqr.lstsq(to_device(a, device), b)


def test_singular_completion_is_detected_on_the_device(device):
    """A first column along e1 makes LAPACK skip a reflector: Q[:n, :n] − I is singular, found
    from its singular values computed on the device."""
    a = to_device(np.array([[2.0, 1.0], [0.0, 3.0], [0.0, 4.0]]), device)
    q, r = diffqr.qr(a, mode="complete")
    with pytest.raises(diffqr.RankDeficientError, match=r"Q\[:n, :n\] − I.*mode='reduced'"):
        diffqr.qr_vjp(a, q, r, xp.ones_like(q), None)


def test_negative_ridge_array(rng, device):
    a, b = random_matrix(rng, (5, 3)), random_matrix(rng, (5,))
    with pytest.raises(ValueError, match=">= 0"):
        diffqr.lstsq(to_device(a, device), to_device(b, device),
                     ridge=xp.asarray(-1.0, device=device))


def test_dispatch_prefers_native_adapters(rng):
    """NumPy arrays (also array-api-compat's NumPy namespace) keep the NumPy adapter."""
    import array_api_compat.numpy as cnp

    assert backend_for(A=cnp.asarray(random_matrix(rng, (3, 2)))).name == "numpy"
    assert backend_for(A=to_device(random_matrix(rng, (3, 2)), CPU)).name.startswith("array_api")


@pytest.mark.parametrize(("module", "make", "adapter"), [
    ("torch", lambda m, a: m.from_numpy(a), "torch"),
    ("jax.numpy", lambda m, a: m.asarray(a), "jax"),
    ("dask.array", lambda m, a: m.from_array(a), "dask"),
])
def test_frameworks_with_an_array_namespace_keep_their_adapter(rng, module, make, adapter):
    """Their arrays have an Array API namespace too; the native adapter comes first."""
    framework = pytest.importorskip(module)
    assert backend_for(A=make(framework, random_matrix(rng, (3, 2)))).name == adapter


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_blocked_triangular_solve(rng, device, upper, left, adjoint):
    """Two levels of blocks (k = 300 > 2 leaves), batched with broadcasting, complex, against
    LAPACK."""
    k = 300
    r = random_matrix(rng, (2, 1, k, k), "complex128") + 4 * k ** 0.5 * np.eye(k)
    r = np.triu(r) if upper else np.tril(r)
    b = random_matrix(rng, (3, k, 5) if left else (3, 5, k), "complex128")
    x = array_api_linalg.solve_triangular(xp, to_device(r, device), to_device(b, device),
                                          upper=upper, left=left, adjoint=adjoint)
    assert_strict(x, device)
    op = r.conj().swapaxes(-1, -2) if adjoint else r
    residual = op @ to_host(x) - b if left else to_host(x) @ op - b
    assert np.abs(residual).max() < 1e-12 * np.abs(b).max() * k


@pytest.mark.parametrize("shape", [(40, 60), (60, 40), (3, 30, 50)])
def test_pivots_of_larger_matrices_match_geqp3(rng, device, shape):
    a = random_matrix(rng, shape, "complex128")
    p = to_host(array_api_linalg.householder_pivots(xp, to_device(a, device), None))
    for index in np.ndindex(*shape[:-2]):
        np.testing.assert_array_equal(p[index], scipy.linalg.qr(a[index], pivoting=True)[2])
