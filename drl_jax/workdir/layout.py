"""Where every job writes: the one owner of the workdir's folders and file names.

  WORKDIR/
    source/<dataset>/<model_id>/              a trained model (train job, transfer stage 1)
      model.json  config.json  checkpoints/  checkpoints_best/  train_log.jsonl ...
    transfer/<source>__to__<target>/          one transfer pair
      config.json                             the transfer job's resolved config
      <model_id>/checkpoints/ model.json ...  the fine-tuned model
      <model_id>/before/  <model_id>/after/   evaluations (EVALUATION_FILES)
      results/                                the pair's report
    study/                                    the study job's tables and figures
  OUT/<source>/<model_id>/<dataset>/<which>/  the evaluate job: a checkpoint ('last' or
                                              'best') of a model on a dataset
    config.json  metrics.json ...
  OUT/results.{json,csv}                      one row per (checkpoint, dataset) under OUT

Jobs and reports ask this module for paths and never join stage folders themselves;
`stage_of` says which stage a metrics.json belongs to from its path alone. docs/workdir.md
describes every file.
"""

from __future__ import annotations

import dataclasses

from etils import epath

SOURCE, TRANSFER, STUDY, RESULTS = "source", "transfer", "study", "results"
BEFORE, AFTER = "before", "after"
PAIR_SEPARATOR = "__to__"
CONFIG, METRICS, MODEL_CARD = "config.json", "metrics.json", "model.json"
# Folders never searched for results: checkpoints hold orbax files, study/ the study's own.
_NOT_RESULTS = ("checkpoints", "checkpoints_best")


def source_model_dir(root: epath.PathLike, dataset: str, model_id: str) -> epath.Path:
    """WORKDIR/source/<dataset>/<model_id>: a model trained on `dataset`."""
    return epath.Path(root) / SOURCE / dataset / model_id


def pair_name(source: str, target: str) -> str:
    """'<source>__to__<target>', the folder name of a transfer pair."""
    return f"{source}{PAIR_SEPARATOR}{target}"


def parse_pair(name: str) -> tuple[str, str] | None:
    """(source, target) of a pair folder's name, None when `name` is not one."""
    source, separator, target = name.partition(PAIR_SEPARATOR)
    return (source, target) if separator and source and target else None


@dataclasses.dataclass(frozen=True)
class Pair:
    """The folders of one transfer pair under a workdir."""

    folder: epath.Path  # WORKDIR/transfer/<source>__to__<target>

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def results(self) -> epath.Path:
        return self.folder / RESULTS

    @property
    def config(self) -> epath.Path:
        return self.folder / CONFIG

    def tuned(self, model_id: str) -> epath.Path:
        """The fine-tuned model's folder (checkpoints, model.json, logs)."""
        return self.folder / model_id

    def stage(self, model_id: str, stage: str) -> epath.Path:
        """The evaluation folder of a model before or after fine-tuning."""
        if stage not in (BEFORE, AFTER):
            raise ValueError(f"stage must be {BEFORE!r} or {AFTER!r}, got {stage!r}.")
        return self.folder / model_id / stage

    def model_ids(self, stage: str) -> list[str]:
        """The models with a finished evaluation at `stage`, sorted."""
        if not self.folder.exists():
            return []
        return sorted(d.name for d in self.folder.iterdir() if (d / stage / METRICS).exists())


def pair(root: epath.PathLike, source: str, target: str) -> Pair:
    return Pair(epath.Path(root) / TRANSFER / pair_name(source, target))


def pairs(root: epath.PathLike) -> list[Pair]:
    """Every transfer pair folder under WORKDIR/transfer, sorted by name."""
    folder = epath.Path(root) / TRANSFER
    if not folder.exists():
        return []
    return [Pair(d) for d in sorted(folder.iterdir()) if d.is_dir() and parse_pair(d.name)]


def evaluation_dir(
    out: epath.PathLike, trained_on: str, model_id: str, dataset: str, which: str
) -> epath.Path:
    """OUT/<trained_on>/<model_id>/<dataset>/<which>: the evaluate job's folder for one
    checkpoint ('last' or 'best') of a model on one dataset."""
    return epath.Path(out) / trained_on / model_id / dataset / which


def study_dir(root: epath.PathLike) -> epath.Path:
    return epath.Path(root) / STUDY


def find_metrics(root: epath.PathLike) -> list[epath.Path]:
    """Every metrics.json under root, sorted; none from root/study/ or checkpoint folders."""
    root = epath.Path(root)
    if not root.exists():
        return []
    found = []
    for folder, dirs, files in root.walk():
        dirs[:] = [d for d in dirs if d not in _NOT_RESULTS and not (folder == root and d == STUDY)]
        if METRICS in files:
            found.append(folder / METRICS)
    return sorted(found)


def stage_of(relative_path: str) -> tuple[str, str]:
    """(stage, pair) of a metrics.json from its '/'-separated path relative to the workdir.

    A transfer's evaluations give ('before' | 'after', '<source>__to__<target>'); any
    other evaluation gives ('', ''): the caller tells a model's own training data from
    another dataset by the record.
    """
    parts = relative_path.split("/")
    if len(parts) >= 4 and parts[-2] in (BEFORE, AFTER) and parse_pair(parts[-4]):
        return parts[-2], parts[-4]
    return "", ""
