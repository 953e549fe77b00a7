"""Benchmark runs carried over several sittings (``benchmarks/sittings.py``): the folder's
marker names the run to continue, a finished plan is recognised, and a time limit stops a
sitting with a checkpoint that the next sitting continues to the planned step."""
from lab import TrainConfig, Trainer, get_model_config, get_problem
from benchmarks.sittings import carried_run, remember_run, run_within

PLAN = dict(steps=30, n_pde=64, n_ic=16, n_bc=16, log_every=1, snapshot_every=100,
            checkpoint_every=100)


def test_a_run_carried_over_sittings_ends_at_its_plan(tmp_path):
    assert carried_run(tmp_path, "burgers.mlp") == (None, False)
    first = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                    TrainConfig(**PLAN), runs_dir=tmp_path)
    first.subscribe(lambda e: first.stop() if getattr(e, "step", 0) == 12 else None)
    stopped = run_within(first, None)
    assert stopped.status == "stopped" and stopped.step == 12
    remember_run(tmp_path, "burgers.mlp", stopped.run_dir)
    run, done = carried_run(tmp_path, "burgers.mlp")
    assert run and not done

    again = Trainer.resume(run, runs_dir=tmp_path)
    result = run_within(again, 3600.0)  # a limit far beyond the run: it does not fire
    assert result.status == "completed" and result.step == PLAN["steps"]
    remember_run(tmp_path, "burgers.mlp", result.run_dir)
    assert carried_run(tmp_path, "burgers.mlp") == (run, True)


def test_the_time_limit_stops_a_sitting_with_a_checkpoint(tmp_path):
    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2),
                      TrainConfig(**dict(PLAN, steps=10_000_000)), runs_dir=tmp_path)
    result = run_within(trainer, 2.0)
    assert result.status == "stopped" and result.step < 10_000_000
    again = Trainer.resume(result.run_dir, runs_dir=tmp_path)
    assert again.config.steps == 10_000_000 - result.step
