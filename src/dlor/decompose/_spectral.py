r"""Spectral contributions of DLoR components (Appendix H.3, Figures 2(c) and 3(c))."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._errors import DLoRError
from .._matrix import DLoR

__all__ = ["spectral_contributions"]


def spectral_contributions(M: DLoR | Sequence[Tensor | DLoR]) -> dict[str, Tensor]:
    r"""Project the parts of a DLoR, or the branches of a sum, onto the total's singular vectors.

    * ``M`` a [`DLoR`][dlor.DLoR] (deep layer, Figure 2(c)): with the SVD ``M = P Sigma Q^T``,
      returns ``singular_values = diag(Sigma)``, ``low_rank = diag(P^T U V^T Q)`` and
      ``identity = diag(P^T (alpha I) Q)``; ``low_rank + identity = singular_values``.
    * ``M`` a sequence of matrices ``W_i`` (tensors or DLoRs; wide layer, Figure 3(c)):
      with ``W = sum_i W_i = P Sigma Q^T``, returns ``singular_values`` and
      ``branches``, shape ``(k, min(m, n))``, row ``i`` being ``|diag(P^T W_i Q)|``.

    All outputs are float64.
    """
    if isinstance(M, DLoR):
        D = M.to(torch.float64)
        P, s, Qh = torch.linalg.svd(D.to_dense().detach())
        k = s.shape[0]
        Q = Qh.T[:, :k]
        P = P[:, :k]
        low = ((P.T @ D.U.detach()) * (Q.T @ D.V.detach())).sum(dim=1)  # diag(P^T U V^T Q)
        m, n = D.shape
        ident = D.alpha.detach() * torch.einsum("ik,ik->k", P, torch.eye(m, n, dtype=torch.float64) @ Q)
        return {"singular_values": s, "low_rank": low, "identity": ident}
    try:
        mats = [(W.to(torch.float64).to_dense() if isinstance(W, DLoR) else torch.as_tensor(W).double()).detach() for W in M]
    except TypeError as err:
        raise DLoRError("spectral_contributions takes a DLoR or a sequence of matrices") from err
    if not mats:
        raise DLoRError("spectral_contributions got an empty sequence of branches")
    total = sum(mats)
    P, s, Qh = torch.linalg.svd(total)
    k = s.shape[0]
    P, Q = P[:, :k], Qh.T[:, :k]
    contrib = torch.stack([torch.einsum("ik,ij,jk->k", P, Wi, Q).abs() for Wi in mats])
    return {"singular_values": s, "branches": contrib}
