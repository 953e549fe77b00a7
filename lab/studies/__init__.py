"""Studies: many runs over a search space, with seeds, on a Dask cluster, kept in Optuna.

``run_study(StudySpec(space={"model.width": [16, 32]}, seeds=3))`` trains every point three
times on a local cluster and returns the ``optuna.Study``; each trial is an ordinary run in the
run store. Optuna and Dask are the optional extra ``sciml-lab[studies]``, imported only when a
study runs.
"""
from lab.studies.runner import connect, default_storage, run_study, trials_table
from lab.studies.spec import StudySpec

__all__ = ["StudySpec", "connect", "default_storage", "run_study", "trials_table"]
