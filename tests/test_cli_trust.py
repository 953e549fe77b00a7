"""``sciml-lab uq`` and ``sciml-lab sde``: a calibration table, and bad requests refused in one line."""
import json

from lab import cli


def test_uq_prints_a_calibration_row_per_method(capsys):
    assert cli.main(["uq", "--problem", "burgers", "--method", "laplace", "--steps", "2", "--width", "8",
                     "--depth", "1", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["method"] == "laplace" and {"cov50", "cov90", "cov95", "nll", "crps", "seconds"} <= set(row)


def test_bad_uq_and_sde_requests_get_one_clear_line(capsys):
    assert cli.main(["uq", "--method", "ensemble", "--members", "1"]) == 2
    assert "ensemble members must be an integer of at least 2" in capsys.readouterr().err
    assert cli.main(["uq", "--method", "dropout", "--rate", "1"]) == 2
    assert "dropout rate must be in [0, 1)" in capsys.readouterr().err
    assert cli.main(["sde", "--missing", "1.2"]) == 2
    assert "missing fraction must be in [0, 1), got 1.2" in capsys.readouterr().err
