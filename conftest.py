"""Repository-wide pytest setup: notebooks run in FAST mode (small sizes, few steps), and the
suite's runs (a notebook's or an example's, saved to the default runs folder) go to a home of
its own, never into the user's ``~/.sciml-lab``.

The suite runs on two pytest-xdist workers (``-n 2 --dist loadfile`` in pyproject.toml): the
tests use one torch thread each, so two at a time use both cores of a CI machine. Each file
stays on one worker, so a notebook's cells run in order in one kernel. A browser test runs
alone: a served lab starved by a test on the other core missed its clicks and plot updates.
"""
import os
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock

os.environ.setdefault("SCIML_LAB_FAST", "1")
os.environ.setdefault("SCIML_LAB_HOME", tempfile.mkdtemp(prefix="sciml-lab-tests-home-"))
# one intra-op thread in what the suite starts too (notebook kernels, served labs): their tensors
# are small, and two threads per process on two busy cores only contend (notebook 07's training
# cell took 35 s with two, 4.4 s with one)
os.environ.setdefault("OMP_NUM_THREADS", "1")


#: held by a browser test while it runs; any other test waits for it before it starts
ALONE = Path(tempfile.gettempdir()) / "sciml-lab-tests-browser.lock"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    lock = FileLock(ALONE)
    if item.get_closest_marker("browser") is not None:
        with lock:
            yield
    else:
        with lock:  # waits while a browser test runs
            pass
        yield
