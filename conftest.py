"""Repository-wide pytest setup: notebooks run in FAST mode (small sizes, few steps), and the
suite's runs (a notebook's or an example's, saved to the default runs folder) go to a home of
its own, never into the user's ``~/.sciml-lab``."""
import os
import tempfile

os.environ.setdefault("SCIML_LAB_FAST", "1")
os.environ.setdefault("SCIML_LAB_HOME", tempfile.mkdtemp(prefix="sciml-lab-tests-home-"))
