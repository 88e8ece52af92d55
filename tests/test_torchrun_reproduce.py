"""`torchrun -m dlor reproduce`: the ranks share the groups by a fixed assignment, rank 0 writes
the report, and the rows equal a one-process run."""

import csv
import subprocess
import sys

import pytest

from dlor.experiments._launch import loopback_env, torchrun_command
from dlor.experiments._ranks import my_share

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on loopback")


@pytest.mark.parametrize("ranks", [1, 2, 3, 5])
def test_shares_are_disjoint_complete_balanced_and_fixed(ranks):
    items = [f"g{i}" for i in range(17)]
    cost = lambda it: 1 + int(it[1:]) % 6  # noqa: E731
    shares = [my_share(items, cost, ranks, r) for r in range(ranks)]
    assert sorted(sum(shares, [])) == sorted(items)
    loads = [sum(map(cost, s)) for s in shares]
    assert max(loads) - min(loads) <= max(map(cost, items))  # greedy longest-first bound
    assert shares == [my_share(items, cost, ranks, r) for r in range(ranks)]


def _rows(out):
    with (out / "training" / "runs.csv").open() as fh:
        return [{k: v for k, v in r.items() if k not in ("group_seconds", "rank")} for r in csv.DictReader(fh)]


def test_two_ranks_write_the_report_and_equal_one_process(tmp_path):
    env = loopback_env()
    args = ["reproduce", "fig4", "--budget", "tiny", "--quiet"]
    two = tmp_path / "two"
    cmd = torchrun_command(2, "-m", "dlor", *args, "--out", str(two))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (two / "report.md").exists() and (two / "training" / "fig4a_short_budget.png").exists()
    one = tmp_path / "one"
    res1 = subprocess.run(
        [sys.executable, "-m", "dlor", *args, "--out", str(one)], capture_output=True, text=True, timeout=600, env=env
    )
    assert res1.returncode == 0, res1.stderr[-3000:]
    assert _rows(two) == _rows(one)
    with (two / "training" / "runs.csv").open() as fh:
        trained_by = {r["rank"] for r in csv.DictReader(fh)}
    assert trained_by == {"0", "1"}  # both ranks trained their share
    assert res.stdout.count("Report:") == 1  # rank 0 alone wrote the report
