"""Repository-wide pytest setup for notebooks (nbval) and the app servers tests start.

Notebooks run in FAST mode (small sizes, few steps). Kernels and servers inherit one
intra-op thread: CI has 2 cores shared by pytest, a notebook kernel or an app server and a
browser, and extra threads on small tensors only contend (20x slowdowns were measured).
"""
import os

os.environ.setdefault("SCIML_LAB_FAST", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
