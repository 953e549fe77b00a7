"""What a study is: problem, model, fixed settings, a search space, seeds, a search method and
an objective — a JSON document (``sciml-lab study run SPEC.json``) checked when it is built."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from lab.studies.space import Dimension, parse_space, split_key

SAMPLERS = ("grid", "random", "tpe", "qmc")
PRUNERS = ("none", "median", "hyperband", "successive_halving")
_FIELDS = ("name", "problem", "model", "fixed", "space", "seeds", "sampler", "pruner", "n_points",
           "objective", "sampler_seed")


@dataclass
class StudySpec:
    """A study: every point of ``space`` (or ``n_points`` drawn by ``sampler``) is trained
    ``seeds`` times, each (point, seed) one Optuna trial and one run in the run store.

    ``objective``: ``"rel_l2"`` (the run's final relative L2 error), the name of any logged
    metric (``"total"``, ``"loss_pde"``: its last logged value) or ``"time_to:<error>"``
    (seconds until the relative L2 error first reaches ``<error>``; infinite if never).
    Every objective is minimised."""
    problem: str = "burgers"
    model: str = "mlp"
    space: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)      # --set style values shared by every trial
    seeds: int = 1
    sampler: str = "grid"
    pruner: str = "none"
    n_points: int | None = None                    # points to draw (not for grid)
    objective: str = "rel_l2"
    sampler_seed: int = 0
    name: str | None = None                        # default: problem-model-<hash of the spec>

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"study sampler must be one of {list(SAMPLERS)}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"study pruner must be one of {list(PRUNERS)}, got {self.pruner!r}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= 1000:
            raise ValueError(f"study seeds (runs per point) must be an integer in [1, 1000], got {self.seeds!r}")
        self.dimensions: list[Dimension] = parse_space(self.space, self.problem, self.model)
        self._check_fixed()
        if self.sampler == "grid":
            if self.n_points is not None:
                raise ValueError("study n_points is for samplers; a grid runs every point of its space")
            self.grid_points()
        elif isinstance(self.n_points, bool) or not isinstance(self.n_points, int) or self.n_points < 1:
            raise ValueError(f"study n_points (points the {self.sampler!r} sampler draws) must be an "
                             f"integer >= 1, got {self.n_points!r}")
        if not (self.objective in ("rel_l2", "total", "lr") or self.objective.startswith(("loss_", "time_to:"))):
            raise ValueError(f"study objective must be 'rel_l2', a logged metric ('total', 'lr', "
                             f"'loss_<term>') or 'time_to:<error>', got {self.objective!r}")
        self.target_error()  # checks a time_to objective's number
        if self.name is None:
            digest = hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:6]
            self.name = f"{self.problem}-{self.model}-{digest}"
        elif not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"study name must be a non-empty text without '/', got {self.name!r}")

    def _check_fixed(self) -> None:
        from lab.models import get_model_config
        from lab.problems import get_problem
        from lab.training.config import TrainConfig

        parts = {"problem": {}, "model": {}, "train": {}}
        for key, value in self.fixed.items():
            if key in self.space:
                raise ValueError(f"study: {key!r} is both fixed and searched; give it in one place")
            if key == "seed":
                raise ValueError("study: 'seed' is set per run from the seeds; give the number of seeds instead")
            part, name = split_key(key)
            parts[part][name] = value
        get_problem(self.problem, **parts["problem"])
        get_model_config(self.model, **parts["model"])
        TrainConfig(**parts["train"])

    @classmethod
    def from_dict(cls, data: dict) -> "StudySpec":
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"study spec has unknown key(s) {unknown}; allowed: {sorted(_FIELDS)}")
        return cls(**data)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("dimensions", None)
        return d

    def grid_points(self) -> list[dict]:
        """Every point of a grid space, in order (last axis fastest)."""
        points = [{}]
        for dim in self.dimensions:
            points = [{**p, dim.key: v} for p in points for v in dim.grid()]
        return points

    @property
    def n_trials(self) -> int:
        """Runs the study makes in all: points times seeds."""
        n = len(self.grid_points()) if self.sampler == "grid" else self.n_points
        return n * self.seeds

    def target_error(self) -> float | None:
        if not self.objective.startswith("time_to:"):
            return None
        raw = self.objective.split(":", 1)[1]
        try:
            target = float(raw)
        except ValueError:
            target = math.nan
        if not target > 0:
            raise ValueError(f"study objective 'time_to:<error>' needs an error > 0, got {raw!r}")
        return target
