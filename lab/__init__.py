"""sciml-lab backend: problems, models, training and diagnostics — no UI imports.

The names users type::

    from lab import get_problem, get_model_config, TrainConfig, Trainer
    problem = get_problem("burgers")
    trainer = Trainer(problem, get_model_config("mlp", width=32), TrainConfig(steps=2000))
    result = trainer.run()
"""
from lab.device import pick_device
from lab.diagnostics.metrics import relative_l2
from lab.models import get_model_config, list_models
from lab.problems import get_problem, list_problems
from lab.training import Mailbox, TrainConfig, Trainer, list_runs

__all__ = ["Mailbox", "TrainConfig", "Trainer", "get_model_config", "get_problem", "list_models",
           "list_problems", "list_runs", "pick_device", "relative_l2"]
