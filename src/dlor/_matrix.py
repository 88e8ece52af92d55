r"""The DLoR structured matrix ``M = alpha * I_{m x n} + U V^T``.

Paper: Definition 3 (square case) and Remark 2 (rectangular shapes). ``I_{m x n}`` is the
rectangular identity, ones on the main diagonal. Nothing here ever forms the ``m x n``
dense matrix except [`DLoR.to_dense`][dlor.DLoR.to_dense], which is the reference the tests compare to.

Costs for an ``n x n`` matrix of rank ``r``: ``M @ X`` is ``O(n r k)`` for ``k`` right-hand
sides; ``solve``, ``inverse`` and ``slogdet`` are ``O(n r^2 + r^3)``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, overload

import torch
from torch import Tensor

from ._errors import (
    DLoRError,
    DTypeError,
    ShapeError,
    SingularMatrixError,
    check_finite,
    check_floating,
    check_same_dtype_device,
)
from ._linear_autograd import DLoRLinearFunction, fit_last_dim

__all__ = ["DLoR", "dlor_linear", "fit_last_dim"]


def _gram_root(A: Tensor) -> Tensor:
    """``L`` with ``A^T A = L L^T``, from the eigendecomposition (``(r, r)``; PSD, rank-deficient allowed)."""
    w, Q = torch.linalg.eigh(A.T @ A)
    root: Tensor = Q * w.clamp_min(0).sqrt()
    return root


def _fit_rows(X: Tensor, size: int) -> Tensor:
    """Zero-pad or truncate dimension -2 of ``X``: ``X -> I_{size x k} X`` for ``X`` of shape (..., k, c)."""
    return fit_last_dim(X.transpose(-1, -2), size).transpose(-1, -2)


def dlor_linear(x: Tensor, alpha: Tensor, U: Tensor, V: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Row-wise application ``y = x M^T + b = alpha * x~ + (x V) U^T + b``.

    This is the layer map of Remark 2: ``x~`` is ``x`` zero-padded or truncated to ``m``
    features. Two skinny matmuls (the bias rides in the second) and one in-place elementwise
    pass; the ``m x n`` matrix is never formed. The backward is hand-fused
    (``DLoRLinearFunction``): four skinny matmuls, one in-place pass for ``dL/dx`` and one
    dot product for ``dL/dalpha``.

    Under ``torch.autocast`` it runs as ``nn.Linear`` does: every operand is cast to the
    autocast dtype (differentiably, so float32 parameters get float32 gradients) and the
    output has that dtype. Under ``torch.func`` transforms (``grad``, ``vmap``, ``jacrev``:
    per-sample gradients, ensembles) the same map runs as composite torch operations, which
    the transforms differentiate and batch themselves.

    Args:
        x: shape ``(..., n)``.
        alpha: scalar tensor.
        U: shape ``(m, r)``.
        V: shape ``(n, r)``.
        bias: shape ``(m,)`` or ``None``.

    Returns:
        shape ``(..., m)``.
    """
    m, n = U.shape[0], V.shape[0]
    if x.ndim == 0 or x.shape[-1] != n:
        raise ShapeError(
            f"dlor_linear: x has shape {tuple(x.shape)}, but the layer takes {n} input features "
            f"in its last dimension; reshape x to (..., {n})"
        )
    if not x.is_floating_point():
        raise DTypeError(f"dlor_linear: x has dtype {x.dtype}; convert it with x.to({U.dtype}) first")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, n)  # (B, n)
    device_type = x2.device.type
    cast = _autocast_dtype(x2)
    if cast is None and x2.dtype != U.dtype:
        raise DTypeError(
            f"dlor_linear: x has dtype {x2.dtype} and the layer's parameters {U.dtype}; convert "
            f"one to the other (x.to({U.dtype}) or layer.to({x2.dtype})) or run under torch.autocast"
        )
    if cast is not None:
        x2, alpha, U, V = (t.to(cast) for t in (x2, alpha, U, V))
        bias = bias.to(cast) if bias is not None else None
    # autocast off inside: the fused Function's in-place operations are not ones that autocast
    # casts, and every operand now has one dtype
    with torch.autocast(device_type, enabled=False) if cast is not None else contextlib.nullcontext():
        if U.shape[1] == 0 or torch._C._are_functorch_transforms_active():
            # torch.func transforms (grad, vmap, jacrev, ...) differentiate and batch composite
            # torch operations themselves; the fused Function has no setup_context or vmap rule
            base = fit_last_dim(x2, m)  # (B, m)
            y = torch.addcmul(bias, base, alpha) if bias is not None else base * alpha
            if U.shape[1]:
                y = y + (x2 @ V) @ U.t()
            return y.reshape(*lead, m)
        # A fused forward (the bias in the matmul, alpha x~ in place) and backward (_linear_autograd).
        fused: Tensor = DLoRLinearFunction.apply(x2, alpha, U, V, bias)
        return fused.reshape(*lead, m)


def _autocast_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype ``torch.autocast`` runs a matmul on ``x``'s device in, or None when it is off."""
    device_type = x.device.type
    if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


class DLoR:
    r"""A structured matrix ``M = alpha * I_{m x n} + U V^T`` (Definition 3, Remark 2).

    Args:
        alpha: scalar (0-d tensor or Python number); the diagonal coefficient.
        U: shape ``(m, r)``.
        V: shape ``(n, r)``. ``r = 0`` is allowed and gives ``M = alpha * I``.
        validate: check dtypes, shapes and finiteness (default). Internal callers that
            already know the factors are well formed pass ``False`` to skip a device sync.

    Raises:
        DTypeError: non-floating or mismatched dtypes or devices.
        ShapeError: ``U`` and ``V`` are not 2-D with the same number of columns.
        NonFiniteError: NaN or Inf in ``alpha``, ``U`` or ``V``.

    Autograd flows through every operation to ``alpha``, ``U`` and ``V``.
    """

    __slots__ = ("alpha", "U", "V")

    def __init__(self, alpha: Tensor | float, U: Tensor, V: Tensor, *, validate: bool = True):
        if not isinstance(alpha, Tensor):
            check_floating("U", U)
            alpha = torch.tensor(float(alpha), dtype=U.dtype, device=U.device)
        if validate:
            check_floating("alpha", alpha)
            check_floating("U", U)
            check_floating("V", V)
            check_same_dtype_device(U=U, V=V, alpha=alpha)
            if alpha.numel() != 1:
                raise ShapeError(f"alpha must be a scalar, got shape {tuple(alpha.shape)}")
            if U.dim() != 2 or V.dim() != 2:
                raise ShapeError(f"U and V must be 2-D, got U {tuple(U.shape)} and V {tuple(V.shape)}")
            if U.shape[1] != V.shape[1]:
                raise ShapeError(f"U {tuple(U.shape)} and V {tuple(V.shape)} must have the same number of columns (the rank r)")
            if U.shape[0] == 0 or V.shape[0] == 0:
                raise ShapeError(f"U {tuple(U.shape)} and V {tuple(V.shape)} give an empty matrix; a DLoR matrix has n >= 1")
            for name, t in (("alpha", alpha), ("U", U), ("V", V)):
                if name != "V" or V is not U:  # alpha I + U U^T: U is checked once
                    check_finite(name, t)
        self.alpha = alpha if alpha.dim() == 0 else alpha.reshape(())
        self.U = U
        self.V = V

    # ----------------------------------------------------------------- basic properties
    @property
    def shape(self) -> torch.Size:
        """``(m, n)``."""
        return torch.Size((self.U.shape[0], self.V.shape[0]))

    @property
    def rank(self) -> int:
        """``r``, the number of columns of ``U`` (a bound on ``rank(U V^T)``)."""
        return self.U.shape[1]

    @property
    def num_params(self) -> int:
        """``1 + r (m + n)``: one scalar plus the two factors."""
        m, n = self.shape
        return 1 + self.rank * (m + n)

    @property
    def dtype(self) -> torch.dtype:
        return self.U.dtype

    @property
    def device(self) -> torch.device:
        return self.U.device

    @property
    def T(self) -> DLoR:
        """The transpose ``alpha * I_{n x m} + V U^T``."""
        return DLoR(self.alpha, self.V, self.U, validate=False)

    def to(self, *args: Any, **kwargs: Any) -> DLoR:
        """Move or cast all factors, with the arguments of ``torch.Tensor.to``."""
        return DLoR(
            self.alpha.to(*args, **kwargs),
            self.U.to(*args, **kwargs),
            self.V.to(*args, **kwargs),
            validate=False,
        )

    def to_dense(self) -> Tensor:
        """The dense ``(m, n)`` reference. ``O(m n r)``; for tests and small matrices."""
        m, n = self.shape
        eye = torch.eye(m, n, dtype=self.dtype, device=self.device)
        return self.alpha * eye + self.U @ self.V.T

    def __repr__(self) -> str:
        m, n = self.shape
        return f"DLoR(shape=({m}, {n}), rank={self.rank}, alpha={float(self.alpha.detach()):.6g}, dtype={self.dtype})"

    # ----------------------------------------------------------------- products
    def _check_operand(self, X: Tensor, dim: int, size: int, what: str) -> None:
        check_floating(what, X)
        check_same_dtype_device(M=self.U, **{what: X})
        if X.dim() == 0 or X.shape[dim] != size:
            raise ShapeError(
                f"cannot multiply: DLoR has shape {tuple(self.shape)} but {what} has shape "
                f"{tuple(X.shape)} (needs size {size} in dimension {dim})"
            )

    def matmul(self, X: Tensor) -> Tensor:
        """``M @ X`` for ``X`` of shape ``(n,)`` or ``(..., n, k)``; returns ``(m,)`` or ``(..., m, k)``."""
        m, n = self.shape
        if X.dim() == 1:
            self._check_operand(X, 0, n, "X")
            return self.alpha * fit_last_dim(X, m) + self.U @ (self.V.T @ X)
        self._check_operand(X, -2, n, "X")
        return self.alpha * _fit_rows(X, m) + self.U @ (self.V.T @ X)

    def rmatmul(self, X: Tensor) -> Tensor:
        """``X @ M`` for ``X`` of shape ``(m,)`` or ``(..., k, m)``; returns ``(n,)`` or ``(..., k, n)``."""
        m, n = self.shape
        self._check_operand(X, -1, m, "X")
        return self.alpha * fit_last_dim(X, n) + (X @ self.U) @ self.V.T

    @overload
    def __matmul__(self, other: DLoR) -> DLoR: ...
    @overload
    def __matmul__(self, other: Tensor) -> Tensor: ...
    def __matmul__(self, other: object) -> DLoR | Tensor:
        if isinstance(other, DLoR):
            return self.compose(other)
        if isinstance(other, Tensor):
            return self.matmul(other)
        return NotImplemented

    def __rmatmul__(self, other: object) -> Tensor:
        if isinstance(other, Tensor):
            return self.rmatmul(other)
        return NotImplemented

    def compose(self, other: DLoR) -> DLoR:
        r"""The product ``self @ other`` as a DLoR; ranks add.

        With ``M1 = a1 I_{m x k} + U1 V1^T`` and ``M2 = a2 I_{k x n} + U2 V2^T``:
        ``M1 M2 = a1 a2 I_{m x k} I_{k x n} + (a1 I_{m x k} U2 + U1 V1^T U2) V2^T
        + U1 (a2 I_{n x k} V1)^T``. When ``k < min(m, n)`` the product of rectangular
        identities loses ``min(m, n) - k`` diagonal ones, which are put back exactly as an
        extra low-rank correction.
        """
        if not isinstance(other, DLoR):
            raise DTypeError(f"compose expects a DLoR, got {type(other).__name__}")
        check_same_dtype_device(left=self.U, right=other.U)
        m, k = self.shape
        k2, n = other.shape
        if k != k2:
            raise ShapeError(f"cannot multiply DLoR {tuple(self.shape)} by DLoR {tuple(other.shape)}")
        a1, U1, V1 = self.alpha, self.U, self.V
        a2, U2, V2 = other.alpha, other.U, other.V
        left = a1 * _fit_rows(U2, m) + U1 @ (V1.T @ U2)  # (m, r2)
        Us = [left, U1]
        Vs = [V2, a2 * _fit_rows(V1, n)]  # (n, r2), (n, r1)
        lost = min(m, n) - k
        if lost > 0:  # I_{m x k} I_{k x n} = I_{m x n} - sum_{i=k}^{min(m,n)-1} e_i e_i^T
            E_m = torch.eye(m, dtype=self.dtype, device=self.device)[:, k : k + lost]
            E_n = torch.eye(n, dtype=self.dtype, device=self.device)[:, k : k + lost]
            Us.append(-(a1 * a2) * E_m)
            Vs.append(E_n)
        return DLoR(a1 * a2, torch.cat(Us, dim=1), torch.cat(Vs, dim=1), validate=False)

    # ----------------------------------------------------------------- linear algebra
    def __add__(self, other: object) -> DLoR:
        if not isinstance(other, DLoR):
            return NotImplemented
        check_same_dtype_device(left=self.U, right=other.U)
        if self.shape != other.shape:
            raise ShapeError(f"cannot add DLoR {tuple(self.shape)} and DLoR {tuple(other.shape)}")
        return DLoR(
            self.alpha + other.alpha,
            torch.cat([self.U, other.U], dim=1),
            torch.cat([self.V, other.V], dim=1),
            validate=False,
        )

    def __neg__(self) -> DLoR:
        return DLoR(-self.alpha, -self.U, self.V, validate=False)

    def __sub__(self, other: object) -> DLoR:
        if not isinstance(other, DLoR):
            return NotImplemented
        return self + (-other)

    def __mul__(self, scalar: object) -> DLoR:
        if isinstance(scalar, Tensor) and scalar.numel() != 1:
            return NotImplemented
        if not isinstance(scalar, (int, float, Tensor)):
            return NotImplemented
        return DLoR(self.alpha * scalar, self.U * scalar, self.V, validate=False)

    __rmul__ = __mul__

    def _require_square(self, op: str) -> int:
        m, n = self.shape
        if m != n:
            raise ShapeError(f"{op} needs a square DLoR, got shape {(m, n)}")
        return n

    def _scale(self) -> Tensor:
        """A cheap upper bound on ``||M||_2``: ``|alpha| + ||U||_F ||V||_F`` (up to ``sqrt(n r)`` too large)."""
        bound: Tensor = self.alpha.abs() + torch.linalg.norm(self.U) * torch.linalg.norm(self.V)
        return bound

    def _eps(self) -> float:
        return torch.finfo(self.dtype).eps

    def lowrank_norm(self) -> Tensor:
        r"""``||U V^T||_2``, exactly, from the ``r x r`` problem.

        ``sigma_max(U V^T)^2 = lambda_max((U^T U)(V^T V))``; computed as the largest singular
        value of ``L_U^T L_V`` with ``U^T U = L_U L_U^T``, ``V^T V = L_V L_V^T`` (eigen-square
        roots, so rank-deficient factors are fine). ``O(n r^2 + r^3)``.
        """
        if self.rank == 0:
            return torch.zeros((), dtype=self.dtype, device=self.device)
        U, V = self.U.detach(), self.V.detach()
        top: Tensor = torch.linalg.svdvals(_gram_root(U).T @ _gram_root(V))[0]
        return top

    def svdvals(self) -> Tensor:
        r"""The singular values of the square ``M``, descending, exactly, in ``O(n r^2 + r^3)``.

        ``M`` acts as ``alpha I`` on the orthogonal complement of ``span([U, V])`` and as the
        ``2r x 2r`` matrix ``Q^T M Q = alpha I + (Q^T U)(Q^T V)^T`` on it (``Q``: an orthonormal
        basis of ``[U, V]``); so ``sigma(M)`` is ``sigma(Q^T M Q)`` with ``|alpha|`` repeated
        ``n - rank([U, V])`` times.
        """
        n = self._require_square("svdvals")
        U, V = self.U.detach(), self.V.detach()
        a = self.alpha.detach()
        if self.rank == 0:
            return a.abs().expand(n).clone()
        Q, R = torch.linalg.qr(torch.cat([U, V], dim=1))  # (n, q), q = min(n, 2r)
        q = Q.shape[1]
        core = a * torch.eye(q, dtype=self.dtype, device=self.device) + (Q.T @ U) @ (Q.T @ V).T  # (q, q)
        inner = torch.linalg.svdvals(core)
        rest = a.abs().expand(n - q)
        return torch.sort(torch.cat([inner, rest]), descending=True).values

    def cond(self) -> Tensor:
        """The 2-norm condition number ``sigma_max(M) / sigma_min(M)`` (``inf`` when singular), exactly."""
        s = self.svdvals()
        return s[0] / s[-1] if bool(s[-1] > 0) else torch.full_like(s[0], math.inf)

    def capacitance(self) -> Tensor:
        """``C = alpha * I_r + V^T U`` of shape ``(r, r)``; ``det M = alpha^(n-r) det C``."""
        r = self.rank
        return self.alpha * torch.eye(r, dtype=self.dtype, device=self.device) + self.V.T @ self.U

    def _checked_capacitance(self, op: str) -> tuple[Tensor, Tensor] | None:
        r"""The LU factors ``(LU, pivots)`` of the capacitance matrix (None when ``r = 0``), after
        checking that ``M`` is invertible at working precision.

        Two tests:

        * ``r < n``: ``alpha`` is an eigenvalue of ``M`` (on the complement of ``span(V)``), so
          ``sigma_min(M) <= |alpha|`` and ``M`` is singular at working precision when
          ``|alpha| <= eps sigma_max(M)``: its condition number reaches ``1 / eps``, where LAPACK's
          expert drivers report ``rcond < eps``. Below that the Woodbury solve loses about
          ``log10(cond(M))`` digits, as a dense LU solve does. ``sigma_max(M)`` is taken as
          ``|alpha| + ||U V^T||_2`` (within 3x of it), with the exact ``||U V^T||_2``
          ([`lowrank_norm`][dlor.DLoR.lowrank_norm]) computed only when the cheap Frobenius bound cannot clear ``alpha``.
          (NumPy's ``matrix_rank`` tolerance ``n eps sigma_max`` is a rank test and would refuse
          solvable float32 systems such as ``1e-3 I + U U^T`` at ``n = 4096``.)
        * the capacitance matrix ``C`` is singular relative to its own norm: its 1-norm condition
          number ``||C||_1 ||C^{-1}||_1``, exact from its LU factors in ``O(r^3)``, reaches
          ``1 / (r eps)`` (``alpha`` at an eigenvalue ``-lambda(V^T U)``).
        """
        n = self._require_square(op)
        r = self.rank
        eps = self._eps()
        alpha = abs(float(self.alpha.detach()))
        if r < n and alpha <= eps * float(self._scale().detach()):
            sigma_max = alpha + float(self.lowrank_norm())
            if not math.isfinite(sigma_max) or alpha <= eps * sigma_max:
                raise SingularMatrixError(
                    f"{op}: alpha = {float(self.alpha.detach()):.3g} is zero at working precision "
                    f"(|alpha| <= eps sigma_max(M) = {eps * sigma_max:.3g}) and rank r = {r} < n = {n}, so "
                    f"M = alpha*I + U V^T is singular. Use a larger alpha, a full-rank low-rank part, or float64"
                )
        if not r:
            return None
        C = self.capacitance()
        LU, pivots, info = torch.linalg.lu_factor_ex(C)
        with torch.no_grad():
            eye = torch.eye(r, dtype=self.dtype, device=self.device)
            inv_norm = torch.linalg.matrix_norm(torch.linalg.lu_solve(LU.detach(), pivots, eye), 1)
            cond1 = float(torch.linalg.matrix_norm(C.detach(), 1) * inv_norm)
        if int(info) != 0 or not math.isfinite(cond1) or cond1 * r * eps >= 1:
            raise SingularMatrixError(
                f"{op}: M is numerically singular (the capacitance matrix alpha*I + V^T U has 1-norm condition "
                f"number {cond1:.3g} >= 1 / (r eps) = {1 / (r * eps):.3g}). Perturb alpha away "
                f"from the eigenvalues -lambda(V^T U) (the CLI's --perturb)"
            )
        return LU, pivots

    def solve(self, B: Tensor) -> Tensor:
        r"""``M^{-1} B`` by the Woodbury identity.

        ``M^{-1} = (1/alpha) (I - U C^{-1} V^T)`` with ``C = alpha I_r + V^T U``. ``O(n r^2 + r^3
        + n r k)`` for ``k`` right-hand sides. ``B`` has shape ``(n,)`` or ``(..., n, k)``.
        When ``alpha == 0`` and ``r >= n`` the matrix is ``U V^T`` alone, solved densely.

        Raises:
            SingularMatrixError: ``M`` is numerically singular.
        """
        n = self._require_square("solve")
        vec = B.dim() == 1
        self._check_operand(B, 0 if vec else -2, n, "B")
        Bm = B.unsqueeze(-1) if vec else B
        if self._alpha_is_zero() and self.rank >= n:
            X = torch.linalg.solve(self._dense_checked("solve"), Bm)
        else:
            factors = self._checked_capacitance("solve")
            if factors is None:
                X = Bm / self.alpha
            else:
                X = (Bm - self.U @ torch.linalg.lu_solve(*factors, self.V.T @ Bm)) / self.alpha
        out: Tensor = X.squeeze(-1) if vec else X
        return out

    def inverse(self) -> DLoR:
        r"""``M^{-1} = (1/alpha) I - U (alpha C)^{-1} ... `` as a DLoR of the same rank.

        ``M^{-1} = alpha^{-1} I + (-alpha^{-1} U C^{-1}) V^T``. When ``alpha == 0`` and
        ``r >= n`` the result is ``DLoR(0, (U V^T)^{-1}, I)``.
        """
        n = self._require_square("inverse")
        if self._alpha_is_zero() and self.rank >= n:
            inv = torch.linalg.inv(self._dense_checked("inverse"))
            eye = torch.eye(n, dtype=self.dtype, device=self.device)
            return DLoR(torch.zeros_like(self.alpha), inv, eye, validate=False)
        factors = self._checked_capacitance("inverse")
        if factors is None:
            return DLoR(1 / self.alpha, self.U, self.V, validate=False)
        Ut = -torch.linalg.lu_solve(*factors, self.U.T, adjoint=True).T / self.alpha  # U C^{-1} / alpha, (n, r)
        return DLoR(1 / self.alpha, Ut, self.V, validate=False)

    def slogdet(self) -> tuple[Tensor, Tensor]:
        r"""``(sign, log|det M|)`` by the matrix determinant lemma.

        ``det(alpha I + U V^T) = alpha^(n - r) det(alpha I_r + V^T U)``. ``O(n r^2 + r^3)``.
        A singular ``M`` gives ``(0, -inf)``, as ``torch.linalg.slogdet`` does.
        """
        n = self._require_square("slogdet")
        r = self.rank
        if self._alpha_is_zero() and r < n:
            zero = torch.zeros_like(self.alpha)
            return zero, torch.full_like(self.alpha, -math.inf)
        if self._alpha_is_zero():
            sign, logabs = torch.linalg.slogdet(self.U @ self.V.T)
            return sign, logabs
        k = n - r
        sign_a = torch.sign(self.alpha) ** k
        logabs = k * torch.log(self.alpha.abs())
        if r:
            s_c, l_c = torch.linalg.slogdet(self.capacitance())
            return sign_a * s_c, logabs + l_c
        return sign_a, logabs

    def logdet(self) -> Tensor:
        """``log det M`` for a matrix with positive determinant.

        Raises:
            SingularMatrixError: ``det M == 0``.
            DLoRError: ``det M < 0``; use [`slogdet`][dlor.DLoR.slogdet].
        """
        sign, logabs = self.slogdet()
        s = float(sign.detach())
        if s == 0 or not math.isfinite(float(logabs.detach())):
            raise SingularMatrixError("logdet: M is singular (det M = 0)")
        if s < 0:
            raise DLoRError("logdet: det M is negative, so its log is not real; use slogdet()")
        return logabs

    # ----------------------------------------------------------------- helpers
    def _alpha_is_zero(self) -> bool:
        return float(self.alpha.detach()) == 0.0

    def _dense_checked(self, op: str) -> Tensor:
        """The dense ``U V^T`` (used only when ``alpha == 0`` and ``r >= n``), checked for rank."""
        D = self.U @ self.V.T
        n = D.shape[0]
        s = torch.linalg.svdvals(D.detach())
        if s[-1] <= n * self._eps() * s[0] or s[0] == 0:
            raise SingularMatrixError(
                f"{op}: alpha = 0 and U V^T is numerically singular (sigma_min/sigma_max = "
                f"{float(s[-1] / s[0]) if s[0] else 0.0:.3g})"
            )
        return D
