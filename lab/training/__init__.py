"""Training: the Trainer, its configuration, events, run records and checkpoints."""
from lab.training.config import TrainConfig
from lab.training.events import Done, Failed, Mailbox, Preparing, Snapshot, Started, Step
from lab.training.runs import RunRecord, find_run, list_runs
from lab.training.trainer import Result, Trainer

__all__ = ["Done", "Failed", "Mailbox", "Preparing", "Result", "RunRecord", "Snapshot", "Started",
           "Step", "TrainConfig", "Trainer", "find_run", "list_runs"]
