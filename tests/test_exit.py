"""A program that exits with torch work in flight in background threads exits cleanly.

A daemon thread still inside torch when Python finalizes aborts the process (exit status 134,
"terminate called without an active exception") after everything else passed; see
:mod:`lab.workers`. Only a fresh interpreter's exit shows it, hence the subprocess.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import sys, time
    from lab import TrainConfig, Trainer, get_model_config, get_problem
    from widgets.catalogue_view import CatalogueView

    trainer = Trainer(get_problem("convection", beta=5.0), get_model_config("mlp", width=8, depth=2),
                      TrainConfig(steps=10**7, n_pde=128, n_ic=32, n_bc=0), runs_dir=sys.argv[1])
    trainer.start()
    view = CatalogueView(key="darcy_operator", debounce_ms=0)  # generates its dataset: seconds
    deadline = time.monotonic() + 60
    while trainer.step < 2 and time.monotonic() < deadline:   # inside the training loop
        time.sleep(0.05)
    assert view.computing and trainer.is_running
""")


def test_exit_with_a_run_and_a_preview_in_flight_is_clean_and_stops_the_run(tmp_path):
    env = {**os.environ, "SCIML_LAB_CACHE": str(tmp_path / "cache"), "SCIML_LAB_HOME": str(tmp_path / "home")}
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(runs)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = runs.glob("*/summary.json")
    assert json.loads(summary.read_text())["status"] == "stopped"   # stopped and saved at exit
