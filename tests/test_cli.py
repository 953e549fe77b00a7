"""The command line trains, lists and shows runs, and refuses bad input with a clear line."""
import json

import pytest

from lab.cli import main


def test_train_then_list_and_show(capsys):
    code = main(["train", "--steps", "10", "--quiet", "--set", "n_pde=64", "n_ic=16", "n_bc=16",
                 "snapshot_every=10", "model.width=8", "problem.nu=0.05"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["status"] == "completed" and out["step"] == 10
    assert 0 < out["rel_l2"] < 10
    assert main(["runs", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["status"] == "completed"
    assert main(["runs", "show", row["name"]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["problem"]["params"]["nu"] == 0.05


def test_bad_parameters_exit_2_with_the_parameter_named(capsys):
    assert main(["train", "--set", "problem.nu=-1"]) == 2
    assert "Nu must be from 0.0001 to 1" in capsys.readouterr().err  # the field's label and range
    assert main(["train", "--set", "lr=7"]) == 2
    assert "Lr must be" in capsys.readouterr().err
    assert main(["train", "--problem", "nope"]) == 2
    assert "unknown problem" in capsys.readouterr().err
    assert main(["runs", "show", "no-such-run"]) == 2


def test_the_backend_cli_never_imports_the_ui():
    """``lab`` runs headless (GPU nodes, batch jobs): only ``widgets.cli`` adds ``serve``."""
    import subprocess
    import sys

    code = ("import sys; from lab.cli import main; main(['problems']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'widgets', 'panel', 'bokeh', 'holoviews'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    with pytest.raises(SystemExit):  # no serve subcommand without the UI layer
        main(["serve", "--no-show"])


def test_key_value_assignments_read_numbers_as_numbers_and_name_a_bad_pair():
    from lab.config import parse_assignments

    got = parse_assignments(["solve_resolution=421", "a_low=4", "lr=1e-3", "causal=true",
                             "embedding=fourier", "causal_eps=[1, 10]"])
    assert got == {"solve_resolution": 421, "a_low": 4, "lr": 1e-3, "causal": True,
                   "embedding": "fourier", "causal_eps": [1, 10]}
    assert isinstance(got["solve_resolution"], int) and isinstance(got["lr"], float)
    with pytest.raises(ValueError, match=r"--data expects key=value, got 'a_low'"):
        parse_assignments(["a_low"], "--data")
