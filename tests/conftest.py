"""Test isolation: runs go to a per-test folder; reference solutions share one session cache."""
import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# property-based tests (tests/test_properties.py): the same examples on every run, sized for CI
# (about a minute on 2 cores); SCIML_LAB_EXAMPLES=2000 searches deeper
settings.register_profile("ci", derandomize=True, max_examples=int(os.environ.get("SCIML_LAB_EXAMPLES", 200)),
                          deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    os.environ["SCIML_LAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    # the small tensors of these tests gain nothing from intra-op threads, and on 2 cores
    # shared with a browser and an app server, extra threads only contend (20x slower seen)
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_HOME", str(tmp_path / "home"))



@pytest.fixture(autouse=True)
def _no_patched_bokeh_document():
    """A test may not leave a document patched in as Bokeh's ``curdoc()``. Bokeh's
    ``patch_curdoc`` does not unpatch when the call it wraps raises; a served lab that left one
    there raised "Patched curdoc has been previously destroyed" for every later ``curdoc()``
    (``widgets.pages.call_on_page`` guards the lab's case). The leak fails the test that made it,
    and is cleared so the worker's later tests are not affected too."""
    yield
    from bokeh.io.doc import _PATCHED_CURDOCS
    leaked = len(_PATCHED_CURDOCS)
    _PATCHED_CURDOCS.clear()
    assert not leaked, f"{leaked} document(s) left patched in as Bokeh's curdoc()"
