"""Repository-wide pytest setup: notebooks run in FAST mode (small sizes, few steps), and the
suite's runs (a notebook's or an example's, saved to the default runs folder) go to a home of
its own, never into the user's ``~/.sciml-lab``.

The suite runs on two pytest-xdist workers (``-n 2 --dist loadfile`` in pyproject.toml): the
tests use one torch thread each, so two at a time use both cores of a CI machine. Each file
stays on one worker, so a notebook's cells run in order in one kernel; the browser tests take
turns (``tests/conftest.py``), so at most one drives Chromium at a time.
"""
import os
import tempfile

os.environ.setdefault("SCIML_LAB_FAST", "1")
os.environ.setdefault("SCIML_LAB_HOME", tempfile.mkdtemp(prefix="sciml-lab-tests-home-"))

