"""Repository-wide pytest setup: notebooks run in FAST mode (small sizes, few steps)."""
import os

os.environ.setdefault("SCIML_LAB_FAST", "1")
