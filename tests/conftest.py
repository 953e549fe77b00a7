"""Test isolation: runs go to a per-test folder; reference solutions share one session cache."""
import os

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    os.environ["SCIML_LAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    # CI has 2 cores; oversubscribing them with intra-op threads only adds contention
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_HOME", str(tmp_path / "home"))
