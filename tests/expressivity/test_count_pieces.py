"""The exact piece counter against brute force and closed forms."""

import pytest
import torch
from torch import nn

from dlor import DLoRError
from dlor.expressivity import count_pieces, sawtooth_network, tent_power
from dlor.nn import MLP, DeepDLoR, DLoRLinear, WideDLoR
from tests.tolerances import CLOSED_FORM


def slope_changes_by_autograd(model: nn.Module, a: float, b: float, n: int) -> tuple[int, torch.Tensor]:
    """Brute force, independent of the counter: the network's own forward, differentiated by
    autograd at ``n`` grid midpoints; ``1 +`` the number of changes of that slope."""
    x = torch.linspace(a, b, n + 1, dtype=torch.float64)
    mid = ((x[1:] + x[:-1]) / 2)[:, None].requires_grad_(True)
    (slope,) = torch.autograd.grad(model(mid).sum(), mid)
    slope = slope[:, 0]
    scale = slope.abs().max()
    change = (slope[1:] - slope[:-1]).abs() > 1e-9 * scale
    return int(change.sum()) + 1, x


def _random_small(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "mlp":
        return MLP([1, 5, 4, 1], activation="relu").double()
    if kind == "deep":
        return DeepDLoR(3, width=4, activation="relu").double()
    return WideDLoR(3, width=4, activation="relu").double()


@pytest.mark.parametrize("kind", ["mlp", "deep", "wide"])
@pytest.mark.parametrize("seed", range(6))
def test_counter_equals_brute_force_on_random_small_networks(kind, seed):
    model = _random_small(kind, seed)
    a, b, n = -3.0, 3.0, 200_000
    exact = count_pieces(model, (a, b))
    spacing = (b - a) / n
    gaps = torch.diff(torch.cat([torch.tensor([a]), exact.kinks, torch.tensor([b])]))
    # brute force resolves only kinks farther apart than its grid; every seed here satisfies it
    assert float(gaps.min()) > 3 * spacing
    brute, _ = slope_changes_by_autograd(model, a, b, n)
    assert exact.pieces == brute
    assert exact.pieces <= exact.regions


def test_one_hidden_layer_has_one_piece_per_breakpoint_inside_the_interval():
    """Closed form: f(x) = sum_j c_j relu(w_j x + b_j) has a kink at each -b_j / w_j with c_j != 0."""
    torch.manual_seed(3)
    model = MLP([1, 12, 1], activation="relu").double()
    w, bias = model.layers[0].weight[:, 0].detach(), model.layers[0].bias.detach()
    inside = (-bias / w).abs() < 1.0
    assert 0 < int(inside.sum()) < 12  # some breakpoints fall outside [-1, 1]
    got = count_pieces(model, (-1.0, 1.0))
    assert got.pieces == int(inside.sum()) + 1 == got.regions
    torch.testing.assert_close(got.kinks, (-bias / w)[inside].sort().values, **CLOSED_FORM)


def test_a_linear_network_has_one_piece():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 3), nn.Linear(3, 1)).double()
    assert count_pieces(model).pieces == 1


@pytest.mark.parametrize("L", [1, 2, 3, 7, 12, 20])
def test_sawtooth_construction_has_two_to_the_L_pieces(L):
    got = count_pieces(sawtooth_network(L), (0.0, 1.0))
    assert got.pieces == got.regions == 2**L
    # the kinks of T^L are the multiples of 2^-L inside (0, 1)
    torch.testing.assert_close(got.kinks, torch.arange(1, 2**L, dtype=torch.float64) / 2**L, **CLOSED_FORM)


def test_construction_equals_the_closed_form_to_rounding():
    from tests.tolerances import SAWTOOTH_CONSTRUCTION

    x = torch.cat([torch.linspace(0, 1, 10_001, dtype=torch.float64), torch.rand(10_000, dtype=torch.float64)])[:, None]
    for L in range(1, 21):
        net = sawtooth_network(L)
        assert all(isinstance(m, (nn.Linear, nn.ReLU, DLoRLinear)) for m in net)
        ranks = [m.rank for m in net if isinstance(m, DLoRLinear)]
        assert len(ranks) == L and max(ranks) <= 2
        assert all(float(m.alpha) == 0.0 for m in net if isinstance(m, DLoRLinear))
        with torch.no_grad():
            assert float((net(x) - tent_power(x, L)).abs().max()) <= SAWTOOTH_CONSTRUCTION


def test_tent_power_is_the_papers_sawtooth_at_frequency_two_to_the_L():
    from dlor.experiments._data import sawtooth

    x = torch.linspace(0, 1, 1001, dtype=torch.float64)
    for L in (1, 3, 5):
        torch.testing.assert_close(tent_power(x, L), 1 - sawtooth(x, 2.0**L), **CLOSED_FORM)


def test_wide_network_counts_match_a_sequential_of_its_steps():
    """The wide family as branches: the counter's program gives the same output as the module."""
    torch.manual_seed(1)
    model = WideDLoR(5, width=6, activation="relu").double()
    brute, _ = slope_changes_by_autograd(model, -2, 2, 100_000)
    assert count_pieces(model).pieces == brute


@pytest.mark.parametrize(
    "model, match",
    [
        (lambda: DeepDLoR(2, width=4), "needs ReLU"),
        (lambda: MLP([1, 4, 1]), "needs ReLU"),
        (lambda: nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)), "needs ReLU"),
        (lambda: MLP([2, 4, 1], activation="relu"), "scalar input"),
        (lambda: DeepDLoR(2, width=4, in_features=3, activation="relu"), "scalar input"),
        (lambda: nn.Sequential(nn.Conv1d(1, 1, 1)), "not supported"),
        (lambda: nn.GRU(1, 1), "cannot count"),
    ],
)
def test_bad_networks_get_named_errors(model, match):
    with pytest.raises(DLoRError, match=match):
        count_pieces(model())


@pytest.mark.parametrize("interval", [(1.0, 1.0), (2.0, -2.0), (0.0, float("inf")), ("a", 1), (1,)])
def test_bad_intervals_are_refused(interval):
    with pytest.raises(DLoRError, match="interval"):
        count_pieces(sawtooth_network(2), interval)


@pytest.mark.parametrize("L", [0, -1, 2.5, True])
def test_bad_depths_are_refused(L):
    with pytest.raises(DLoRError, match="L"):
        sawtooth_network(L)
