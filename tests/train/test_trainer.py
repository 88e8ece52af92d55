"""The vectorized trainer equals training each model alone with torch.optim (float64, 1e-6 relative)."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from dlor import DLoRError
from dlor.experiments._context import RunContext
from dlor.experiments._data import sawtooth_data
from dlor.experiments.section6_training.experiment import MATCHED_WIDTH, PAPER_TABLE1, table1
from dlor.nn import MLP, DeepDLoR, WideDLoR
from dlor.train import GroupSpec, GroupTrainer, TrainConfig, epoch_orders
from dlor.train._batched import batched_forward, make_module, stack_modules
from tests.tolerances import EXACT, TRAINER_VS_TORCH, WORKER_PROCESSES_RTOL, tol


def reference_training(arch, k, widths, seed, cfg, data, epochs):
    torch.manual_seed(seed)
    model = make_module(arch, k, widths).double()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr)
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(data["x_train"]), data["y_train"])
        loss.backward()
        opt.step()
        sched.step(loss.item())
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]), opt.param_groups[0]["lr"]


@pytest.mark.parametrize(
    "arch,k,widths,compile",
    [
        ("deep", 3, None, False),
        ("wide", 4, None, False),
        ("dense", None, [1, 16, 16, 1], False),
        ("deep", 16, None, False),
        ("deep", 3, None, True),
        pytest.param("wide", 4, None, True, marks=pytest.mark.slow),  # compiled: one architecture suffices for make test
    ],
)
def test_vectorized_equals_torch_optim(arch, k, widths, compile):
    data = sawtooth_data()
    # small patience: the schedule changes the lr several times
    cfg = TrainConfig(epochs=300, patience=5, compile=compile)
    trainer = GroupTrainer(GroupSpec(arch, k, widths, [0, 1, 2]), cfg, dtype=torch.float64)
    trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    for i, seed in enumerate([0, 1, 2]):
        ref, lr = reference_training(arch, k, widths, seed, cfg, data, 300)
        got = trainer.state.params.detach()[i]
        assert float((got - ref).abs().max() / ref.abs().max()) <= TRAINER_VS_TORCH
        assert float(trainer.state.lr[i]) == pytest.approx(lr, rel=tol("matmul", torch.float64)["rtol"])
    assert float(trainer.state.lr.min()) < cfg.lr  # the plateau schedule was exercised
    assert (trainer._step_compiled is not None) == compile  # the compiled path really ran (no eager fallback)


@pytest.mark.parametrize("arch,k,widths", [("deep", 3, None), ("dense", None, [1, 16, 16, 1])])
def test_a_group_of_mixed_rates_equals_each_member_alone_at_its_rate(arch, k, widths):
    data = sawtooth_data()
    cfg = TrainConfig(epochs=200, patience=5)
    rates = [5e-4, 5e-3, 5e-2]  # 3 rates x 2 seeds, rate-major, as a tuning grid lays them out
    lrs = [r for r in rates for _ in range(2)]
    seeds = [s for _ in rates for s in (0, 1)]
    trainer = GroupTrainer(GroupSpec(arch, k, widths, seeds, lrs=lrs), cfg, dtype=torch.float64)
    rows = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    for i, (seed, rate) in enumerate(zip(seeds, lrs, strict=True)):
        ref, lr = reference_training(arch, k, widths, seed, replace(cfg, lr=rate), data, 200)
        got = trainer.state.params.detach()[i]
        assert float((got - ref).abs().max() / ref.abs().max()) <= TRAINER_VS_TORCH
        assert float(trainer.state.lr[i]) == pytest.approx(lr, rel=tol("matmul", torch.float64)["rtol"])
        assert rows[i]["lr"] == rate and rows[i]["seed"] == seed


@pytest.mark.parametrize("lrs", [[1e-3], [1e-3, float("nan")], [1e-3, -1.0]])
def test_bad_per_model_rates_are_refused(lrs):
    with pytest.raises(DLoRError):
        GroupTrainer(GroupSpec("deep", 2, None, [0, 1], lrs=lrs), TrainConfig(epochs=1))


def reference_minibatch_training(arch, k, widths, seed, cfg, data, epochs, init=None):
    """A plain torch.optim loop: shuffled minibatches in the orders of ``epoch_orders``, the
    plateau schedule stepped once per epoch on the full training MSE."""
    torch.manual_seed(seed)
    model = make_module(arch, k, widths, init=init).double()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr)
    x, y = data["x_train"], data["y_train"]
    orders = epoch_orders(seed, len(x), 1, epochs)
    for e in range(epochs):
        for idx in orders[e].split(cfg.batch_size):
            opt.zero_grad()
            nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            sched.step(nn.functional.mse_loss(model(x), y).item())
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]), opt.param_groups[0]["lr"]


_MINIBATCH_REFERENCE: dict = {}


@pytest.mark.parametrize(
    "arch,k,widths,init,compile",
    [
        (arch, k, widths, init, compile)
        if not compile or arch == "wide"  # compiled: one architecture in make test, every one under -m slow
        else pytest.param(arch, k, widths, init, compile, marks=pytest.mark.slow)
        for arch, k, widths, init in (
            ("deep", 3, None, "library"),
            ("wide", 4, None, "h1-linear"),
            ("dense", None, [1, 16, 16, 1], None),
        )
        for compile in (False, True)
    ],
)
def test_minibatch_vectorized_equals_torch_optim(arch, k, widths, init, compile):
    """200 epochs of 64-point minibatches (3 full batches and a partial one of 8 points), float64."""
    data = sawtooth_data()
    cfg = TrainConfig(epochs=200, patience=5, batch_size=64, compile=compile)
    seeds = [0, 1, 2]
    spec = GroupSpec(arch, k, widths, seeds, inits=None if init is None else [init] * 3)
    trainer = GroupTrainer(spec, cfg, dtype=torch.float64)
    trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    for i, seed in enumerate(seeds):
        key = (arch, k, init, seed)
        if key not in _MINIBATCH_REFERENCE:  # shared by the eager and the compiled case
            _MINIBATCH_REFERENCE[key] = reference_minibatch_training(arch, k, widths, seed, cfg, data, 200, init)
        ref, lr = _MINIBATCH_REFERENCE[key]
        got = trainer.state.params.detach()[i]
        assert float((got - ref).abs().max() / ref.abs().max()) <= TRAINER_VS_TORCH
        assert float(trainer.state.lr[i]) == pytest.approx(lr, rel=tol("matmul", torch.float64)["rtol"])
    assert int(trainer.state.step[0]) == 200 * 4  # ceil(200 / 64) Adam steps per epoch
    assert float(trainer.state.lr.min()) < cfg.lr  # the plateau schedule was exercised
    assert (trainer._step_compiled is not None) == compile


def test_minibatch_per_model_training_sets_and_orders():
    """A group whose models have training sets of their own trains each as if alone; the
    shuffle of an epoch depends only on (seed, epoch)."""
    a, b = sawtooth_data(split="random"), sawtooth_data(split="interleaved")
    cfg = TrainConfig(epochs=30, batch_size=32)
    both = GroupTrainer(GroupSpec("deep", 2, None, [0, 0]), cfg, dtype=torch.float64)
    stack = lambda key: torch.stack([a[key], b[key]])  # noqa: E731
    both.run(stack("x_train"), stack("y_train"), stack("x_test"), stack("y_test"))
    for i, d in enumerate((a, b)):
        alone = GroupTrainer(GroupSpec("deep", 2, None, [0]), cfg, dtype=torch.float64)
        alone.run(d["x_train"], d["y_train"], d["x_test"], d["y_test"])
        torch.testing.assert_close(both.state.params[i], alone.state.params[0], **tol("layer", torch.float64))
    whole = epoch_orders(3, 200, 1, 150)
    torch.testing.assert_close(epoch_orders(3, 200, 61, 20), whole[60:80], **EXACT)
    assert all(sorted(o.tolist()) == list(range(200)) for o in whole[:5])
    assert not torch.equal(epoch_orders(4, 200, 1, 1), whole[:1])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "32"])
def test_bad_batch_size_is_refused(bad):
    with pytest.raises(DLoRError, match="batch_size must be a positive integer"):
        TrainConfig(batch_size=bad)


def test_batch_size_larger_than_the_training_set_is_refused():
    data = sawtooth_data()
    trainer = GroupTrainer(GroupSpec("deep", 1, None, [0]), TrainConfig(epochs=2, batch_size=500))
    with pytest.raises(DLoRError, match="larger than the training set"):
        trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])


def test_unknown_activation_is_refused():
    with pytest.raises(DLoRError, match="unknown activation"):
        make_module("deep", 2, None, activation="tanh")


def test_unknown_init_is_refused():
    with pytest.raises(DLoRError, match="unknown init"):
        make_module("deep", 2, None, init="xavier")


@pytest.mark.parametrize("activation", ["softplus", "relu"])
@pytest.mark.parametrize("broadcast", [False, True])
def test_batched_forward_matches_modules(broadcast, activation):
    x = torch.randn(30, 1, dtype=torch.float64)
    cases = [
        ("deep", 5, None),
        ("deep", 16, None),
        ("wide", 7, None),
        ("wide", 16, None),
        ("dense", None, [1, 9, 9, 1]),
        ("deep", 4, [1, 8, 8, 1]),
        ("wide", 4, [1, 32, 32, 1]),
    ]
    for arch, k, widths in cases:  # k=16: rank 1, where the deep model keeps its matmuls
        mods = [make_module(arch, k, widths, activation=activation).double() for _ in range(3)]
        out = batched_forward(arch, stack_modules(mods), x, k=k, n_layers=3, broadcast=broadcast, activation=activation)
        torch.testing.assert_close(out, torch.stack([m(x) for m in mods]), **tol("layer", torch.float64))


def test_non_finite_model_fails_alone():
    data = sawtooth_data()
    trainer = GroupTrainer(GroupSpec("deep", 2, None, [0, 1]), TrainConfig(epochs=20), dtype=torch.float64)
    with torch.no_grad():
        trainer.state.params[1, 0] = float("nan")
    rows = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    assert rows[1]["failed"] and not rows[0]["failed"]
    assert rows[0]["epochs_trained"] == 20 and rows[1]["epochs_trained"] == 0


def test_early_stop_threshold_and_resume(tmp_path):
    data = sawtooth_data()
    cfg = TrainConfig(epochs=40, checkpoint_every=10, stop_below=10.0)  # every model stops after epoch 1
    trainer = GroupTrainer(GroupSpec("wide", 2, None, [0]), cfg)
    rows = trainer.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    assert rows[0]["epochs_trained"] == 1
    # resume: a run interrupted after a checkpoint continues to the same result
    cfg = TrainConfig(epochs=30, checkpoint_every=10)
    ck = tmp_path / "g.ckpt"
    full = GroupTrainer(GroupSpec("deep", 2, None, [0, 1]), cfg, dtype=torch.float64)
    full.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    part = GroupTrainer(GroupSpec("deep", 2, None, [0, 1]), cfg, dtype=torch.float64, checkpoint=ck)
    part.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"], epochs=20)
    assert ck.exists()
    resumed = GroupTrainer(GroupSpec("deep", 2, None, [0, 1]), cfg, dtype=torch.float64, checkpoint=ck)
    resumed.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    assert resumed.epoch == 30
    torch.testing.assert_close(resumed.state.params.detach(), full.state.params.detach(), **EXACT)


def test_checkpoint_is_safetensors_and_an_old_pickle_is_set_aside(tmp_path, capsys):
    from safetensors import safe_open

    from dlor.train import TrainState

    data = sawtooth_data()
    cfg = TrainConfig(epochs=12, checkpoint_every=5, eval_epochs=(5,))
    spec = GroupSpec("deep", 2, None, [0, 1])
    ck = tmp_path / "g.ckpt"
    GroupTrainer(spec, cfg, dtype=torch.float64, checkpoint=ck).run(
        data["x_train"], data["y_train"], data["x_test"], data["y_test"], epochs=10
    )
    with safe_open(str(ck), framework="pt") as f:  # field by field, the progress in the metadata
        assert {f"state.{name}" for name in TrainState._fields} | {"test_at.5"} == set(f.keys())
        assert f.metadata()["epoch"] == "10"
    full = GroupTrainer(spec, cfg, dtype=torch.float64)
    full.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    torch.save({"flat": torch.zeros(2, 3), "epoch": 10}, ck)  # a pickled checkpoint of an earlier version
    again = GroupTrainer(spec, cfg, dtype=torch.float64, checkpoint=ck)
    again.run(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    note = capsys.readouterr().err
    assert "not a safetensors checkpoint" in note and note.count("\n") == 1  # one line, then recomputed
    assert (tmp_path / "g.ckpt.corrupt").exists()
    torch.testing.assert_close(again.state.params, full.state.params, **EXACT)


def test_table1_exact():
    rows = table1()
    assert all(r["match"] for r in rows)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    for k, paper in PAPER_TABLE1.items():
        assert count(DeepDLoR(k)) == paper["deep"]
        assert count(WideDLoR(k)) == paper["wide"]
        assert count(MLP([1, MATCHED_WIDTH[k], MATCHED_WIDTH[k], 1])) == paper["dense"]


def test_sweep_resumes_without_duplicates(tmp_path):
    import dataclasses

    from dlor.experiments.section6_training import experiment as training

    cfg = dataclasses.replace(training.SweepConfig.tiny(), tune_rates=False)  # the paper-rate groups alone
    s1 = training.run(cfg, tmp_path, RunContext(progress=False))
    runs = sorted((tmp_path / "training" / "runs").glob("*.json"))
    stamps = {p.name: p.stat().st_mtime_ns for p in runs}
    (runs[0]).unlink()  # as if the sweep had been killed before this group finished
    s2 = training.run(cfg, tmp_path, RunContext(progress=False))
    after = {p.name: p.stat().st_mtime_ns for p in sorted((tmp_path / "training" / "runs").glob("*.json"))}
    assert set(after) == set(stamps)
    assert all(after[n] == stamps[n] for n in stamps if n != runs[0].name)  # finished groups untouched
    import csv

    rows = list(csv.DictReader((tmp_path / "training" / "runs.csv").open()))
    keys = [(r["arch"], r["k"], r["width"], r["seed"], r.get("matched_k", "")) for r in rows]
    assert len(keys) == len(set(keys))  # nothing duplicated
    n_groups = 2 * len(cfg.ks) + 1 + len(set(cfg.ks) & set(training.MATCHED_WIDTH))
    assert len(runs) == n_groups
    assert len(rows) == (2 * len(cfg.ks) + 1) * cfg.seeds + len(set(cfg.ks) & set(training.MATCHED_WIDTH)) * cfg.matched_seeds
    assert [c.claim for c in s1.claims] == [c.claim for c in s2.claims]


def test_sweep_in_two_worker_processes_matches_one_process(tmp_path):
    from dlor.experiments.section6_training import experiment as training

    cfg = training.SweepConfig.tiny()
    one = training.run_sweep(tmp_path / "one", cfg, progress=False)
    two = training.run_sweep(tmp_path / "two", replace(cfg, workers=2), progress=False)
    assert len(one) == len(two) > 0
    key = lambda r: (r["arch"], r["k"], r["width"], r["seed"], r.get("matched_k"))  # noqa: E731
    assert [key(r) for r in one] == [key(r) for r in two]  # same groups, same order
    for a, b in zip(one, two, strict=True):
        assert a["epochs_trained"] == b["epochs_trained"]
        # workers use one thread each: float32 reductions may round differently, nothing more
        assert b["train_mse_final"] == pytest.approx(a["train_mse_final"], rel=WORKER_PROCESSES_RTOL)
    assert not list((tmp_path / "two" / "training" / "runs").glob("*.ckpt"))  # finished groups leave no checkpoint


def test_sweep_workers_default_to_the_cores_except_at_the_tiny_budget():
    from dlor.experiments._sweep import available_cores
    from dlor.experiments.section6_training import experiment as training

    assert training.SweepConfig.paper().workers == available_cores()
    assert training.SweepConfig.quick().workers == available_cores()
    assert training.SweepConfig.tiny().workers == 1
    with pytest.raises(DLoRError, match="workers must be an integer >= 1"):
        training.run(training.SweepConfig.tiny(), Path("unused"), RunContext(workers=0, progress=False))


def test_a_failing_worker_stops_the_whole_sweep_at_once(tmp_path):
    """A worker's error reaches the caller, and the other workers are stopped rather than left
    to finish their groups (a 10^6-epoch group would take an hour)."""
    import time

    from dlor.experiments._sweep import train_groups

    groups = [GroupSpec("deep", 4, None, [0]), GroupSpec("bogus", 1, None, [0])]
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="unknown architecture"):
        train_groups(tmp_path, groups, TrainConfig(epochs=10**6, checkpoint_every=10**6), "float32", workers=2, progress=False)
    assert time.perf_counter() - t0 < 120
    assert not (tmp_path / "deep_k4.json").exists()


@pytest.mark.slow
def test_workers_stop_when_the_main_process_is_killed(tmp_path):
    """kill -9 of the sweep's main process leaves no worker training on as an orphan."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "sweep.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\n"
        "from dlor.experiments._sweep import train_groups\nfrom dlor.train import GroupSpec, TrainConfig\n"
        "if __name__ == '__main__':\n"
        "    groups = [GroupSpec('deep', 4, None, [0]), GroupSpec('deep', 2, None, [0])]\n"
        "    train_groups(Path(sys.argv[1]), groups, TrainConfig(epochs=10**6, checkpoint_every=10**6), 'float32',\n"
        "                 workers=2, progress=False)\n"
    )
    main = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs")], stderr=subprocess.DEVNULL)
    children: set[int] = set()
    deadline = time.time() + 60
    while len(children) < 2 and time.time() < deadline:  # the resource tracker and the workers
        time.sleep(1)
        out = subprocess.run(["pgrep", "-P", str(main.pid)], capture_output=True, text=True).stdout
        children = {int(p) for p in out.split()}
    assert len(children) >= 2, "the workers did not start"
    time.sleep(5)  # let them train
    main.send_signal(signal.SIGKILL)
    main.wait()

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    deadline = time.time() + 60
    while any(alive(p) for p in children) and time.time() < deadline:
        time.sleep(1)
    assert not any(alive(p) for p in children)


def test_minibatch_rows_count_epochs_and_adam_steps_apart():
    data = sawtooth_data()  # 200 training points: batches of 64 take ceil(200 / 64) = 4 steps an epoch
    rows = GroupTrainer(GroupSpec("deep", 1, None, [0]), TrainConfig(epochs=3, batch_size=64)).run(
        data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    )
    assert rows[0]["epochs_trained"] == 3 and rows[0]["adam_steps"] == 12


def test_threads_setting_applies_while_training_and_is_restored():
    data = sawtooth_data()
    before = torch.get_num_threads()
    seen = []
    trainer = GroupTrainer(GroupSpec("dense", None, [1, 4, 1], [0]), TrainConfig(epochs=2, threads=1))
    trainer.run(
        data["x_train"], data["y_train"], data["x_test"], data["y_test"], on_epoch=lambda n: seen.append(torch.get_num_threads())
    )
    assert seen == [1, 1] and torch.get_num_threads() == before


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads_are_refused(threads):
    with pytest.raises(DLoRError, match="threads must be a positive integer"):
        TrainConfig(threads=threads)
