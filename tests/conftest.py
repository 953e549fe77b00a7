"""Test isolation: runs go to a per-test folder; reference solutions share one session cache."""
import os

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    os.environ["SCIML_LAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    # the small tensors of these tests gain nothing from intra-op threads, and on 2 cores
    # shared with a browser and an app server, extra threads only contend (20x slower seen)
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_HOME", str(tmp_path / "home"))
