"""The transfer protocol (docs/transfer.md), as one resumable job.

Stages, each skipped when done and resumed when interrupted (workdir layout in
docs/workdir.md):
  1. source    train the sweep's models on the source dataset (weak supervision):
               the train job's `train_sweep`, WORKDIR/source/<source>/<model_id>/
               (shared by every target);
  2. before    evaluate the source encoders, unchanged, on the target, at the source
               models' last common checkpoint:
               WORKDIR/transfer/<source>__to__<target>/<model_id>/before/;
  3. finetune  unsupervised fine-tuning of that same checkpoint on the target: plain
               VAE ELBO (`beta_vae`) with each model's own beta and seed, continuing
               its optimizer state and step count, for finetune.steps steps:
               .../<model_id>/checkpoints/ (model.json records the checkpoint it
               started from);
  4. after     evaluate the fine-tuned models: .../<model_id>/after/;
  5. report    tables and figures: .../results/ (see drl_jax.report).
A target with another channel count than the source is converted for the models
(gray repeated to RGB, RGB to luminance: drl_jax.data.variants.to_channels).
The pair's folder is locked while the job runs (transfers of one source to other
targets run side by side); its config.json is this job's resolved config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
from etils import epath

from drl_jax.data import variants
from drl_jax.data.ground_truth import GroundTruthData
from drl_jax.errors import UsageError
from drl_jax.evaluation import evaluate_models
from drl_jax.jobs import common
from drl_jax.jobs.train import train_sweep
from drl_jax.models import traversals
from drl_jax.models.card import ModelCard, read_card
from drl_jax.models.methods import NO_EXTRA, get_method
from drl_jax.report import report as pair_report
from drl_jax.report import write_study
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop
from drl_jax.train.state import TrainState, make_optimizer
from drl_jax.train.writers import save_grid
from drl_jax.workdir import layout, records, write_config

FINETUNE_METHOD = "beta_vae"
# How long the job waits for another job's study of the same workdir to finish.
STUDY_WAIT_SECONDS = 600.0


def shared_fovs(requested: Sequence[str], source, target) -> tuple[str, ...]:
    """The FoVs source and target share: `requested`, checked, or every common name."""
    shared = tuple(requested) or tuple(n for n in target.factor_names if n in source.factor_names)
    missing = {
        side.name: [n for n in shared if n not in side.factor_names] for side in (source, target)
    }
    missing = {name: fovs for name, fovs in missing.items() if fovs}
    if missing:
        listing = "; ".join(f"{d.name}: {', '.join(d.factor_names)}" for d in (source, target))
        raise UsageError(
            f"shared_fovs {list(shared)} are not FoVs of {missing}. FoVs are {listing}. Set "
            "--config.shared_fovs to names both have, or leave it empty for every common name."
        )
    if not shared:
        raise UsageError(
            f"{source.name} and {target.name} share no FoV name; set --config.shared_fovs."
        )
    return shared


def run(config: ml_collections.ConfigDict):
    """The `transfer` job; returns the report's table (process 0; None on the others)."""
    common.require(config.workdir, "No output folder: pass --config.workdir=DIR.")
    # Everything a user can get wrong is checked before any work starts.
    if config.checkpoint != "last":
        raise UsageError(
            f"checkpoint={config.checkpoint!r}: the transfer job evaluates and fine-tunes each "
            "source model's last checkpoint ('last'), as one program from one common step; "
            "the models' 'best' steps differ. Evaluate best checkpoints with "
            "configs/evaluate.py --config.checkpoint=best."
        )
    common.method(config)
    common.train_settings(config.train)
    common.train_settings(config.finetune)
    source_info = common.describe(config.source)
    target_info = common.describe(config.target)
    shared = shared_fovs(config.shared_fovs, source_info, target_info)
    settings = common.evaluation_settings(config.eval, common.conv(config.model))
    root = epath.Path(config.workdir)
    pair = layout.pair(root, config.source.name, config.target.name)
    with common.hold([pair.folder]):
        write_config(pair.folder, config.to_dict())
        print(f"[1/5] source: the sweep on {config.source.name} (trained, or reused when done)")
        cards, source_dirs, _ = train_sweep(config, config.source, f"source {config.source.name}")
        step = ckpt.common_step(source_dirs)
        target = _target_data(config.target, source_info.channels)
        record = common.dataset_record(config.target)
        model_ids = [card.model_id for card in cards]
        print(f"[2/5] before: the source models at step {step} on {config.target.name}")
        before = evaluate_models(
            source_dirs,
            target,
            [pair.stage(m, layout.BEFORE) for m in model_ids],
            settings,
            which=step,
            dataset_record=record,
            description="before",
        )
        print(f"      {before.computed} computed, {before.reused} reused")
        print(
            f"[3/5] finetune: {config.finetune.steps} steps of {FINETUNE_METHOD} from step {step}"
        )
        _finetune(config, cards, source_dirs, step, pair, target)
        print(f"[4/5] after: evaluating the fine-tuned models on {config.target.name}")
        after = evaluate_models(
            [pair.tuned(m) for m in model_ids],
            target,
            [pair.stage(m, layout.AFTER) for m in model_ids],
            settings,
            which="last",
            dataset_record=record,
            description="after",
        )
        print(f"      {after.computed} computed, {after.reused} reused")
        if jax.process_index() != 0:  # One host writes the report.
            return None
        table = _report(cards[0], target, source_dirs[0], step, pair, shared)
    with common.hold([layout.study_dir(root)], wait_seconds=STUDY_WAIT_SECONDS):
        study = write_study(root)
    print(f"Study of every model in the workdir: {study.folder / 'README.md'}")
    return table


def _target_data(block: ml_collections.ConfigDict, channels: int) -> GroundTruthData:
    """The target dataset in the models' channel count (gray <-> RGB, said on the console)."""
    target = common.load_data(block)
    if target.channels != channels:
        print(
            f"      {block.name} has {target.channels} channel(s), the models {channels}: "
            "converting the target (variants.to_channels)."
        )
        target = variants.to_channels(target, channels)
    return target


def _finetune(config, cards, source_dirs, step: int, pair: layout.Pair, target) -> None:
    """Unsupervised fine-tuning of the source models' checkpoint at `step`: the ELBO with
    each model's own beta and seed, continuing its optimizer state and step count."""
    states = _source_states(config, cards, source_dirs, step)
    tuned_cards = _finetune_cards(cards, source_dirs, step, states, config.target.name)
    tuned_dirs = [pair.tuned(card.model_id) for card in cards]
    for card, folder in zip(tuned_cards, tuned_dirs, strict=True):
        _check_origin(card, folder)
    tuned_hparams = {
        name: np.array([c.hparams[name] for c in tuned_cards]) for name in tuned_cards[0].hparams
    }
    # The ELBO objective reads only beta; a FactorVAE discriminator is not carried over.
    states = states.replace(hparams=jax.tree.map(np.float32, tuned_hparams), extra=NO_EXTRA)
    loop.train(
        target,
        tuned_cards,
        tuned_dirs,
        get_method(FINETUNE_METHOD, reconstruction=config.method.reconstruction),
        common.train_settings(config.finetune, steps=step + config.finetune.steps),
        best_after_step=step,
        initial_state=states,
        conv=config.model.conv,  # checked in run
        description=f"finetune {config.target.name}",
    )


def _source_states(config, cards, source_dirs, step: int) -> TrainState:
    """The source models' training states at `step`, stacked [M, ...] on the host."""
    optimizer = make_optimizer(config.train.learning_rate, config.train.grad_clip_norm)
    template = loop.sweep_state_template(cards, common.method(config), optimizer)
    checkpoints = ckpt.ModelCheckpoints(source_dirs, config.train.keep_checkpoints)
    try:
        return checkpoints.restore(step, template)
    finally:
        checkpoints.close()


def _finetune_cards(cards, source_dirs, step, states: TrainState, target: str) -> list[ModelCard]:
    """The fine-tuned models' cards: method beta_vae with the source's beta, recording the
    source checkpoint each starts from (folder, step, fingerprint of its variables)."""
    method = get_method(FINETUNE_METHOD)
    tuned = []
    for m, (card, folder) in enumerate(zip(cards, source_dirs, strict=True)):
        hparams = {"beta": card.hparams.get("beta", 1.0), "warmup_steps": 0.0}
        if set(hparams) != set(method.hparam_names):
            raise UsageError(f"fine-tuning reads {method.hparam_names}, got {sorted(hparams)}.")
        variables = {"params": states.params, "batch_stats": states.batch_stats}
        origin = {
            "folder": str(folder),
            "step": step,
            "fingerprint": records.fingerprint(jax.tree.map(lambda x, m=m: x[m], variables)),
        }
        tuned.append(
            dataclasses.replace(
                card, method=FINETUNE_METHOD, hparams=hparams, dataset=target, finetuned_from=origin
            )
        )
    return tuned


def _check_origin(card: ModelCard, folder: epath.Path) -> None:
    """Stops when a fine-tuned folder started from another source checkpoint than `card`'s."""
    if not (folder / layout.MODEL_CARD).exists():
        return
    existing = read_card(folder).finetuned_from or {}
    wanted = card.finetuned_from
    if existing.get("fingerprint") != wanted["fingerprint"]:
        raise UsageError(
            f"{folder} was fine-tuned from another source checkpoint (step "
            f"{existing.get('step', 'not recorded')}) than the source's current one (step "
            f"{wanted['step']}, {wanted['folder']}); delete {folder} to fine-tune again, or "
            "use another workdir."
        )


def _report(card, target, source_dir, step, pair: layout.Pair, shared: tuple[str, ...]) -> str:
    """Stage 5: the pair's tables and figures, unless made from the current evaluations."""
    if pair_report.is_current(pair, shared):
        print(f"[5/5] report: up to date in {pair.results} (same evaluations and shared FoVs)")
        return (pair.results / "transfer_table.md").read_text()
    print(f"[5/5] report: {pair.results}")
    _image_figures(card, target, source_dir, step, pair.tuned(card.model_id), pair.results)
    table = pair_report.write_report(pair, shared_fovs=shared)
    print(table)
    print(f"Tables and figures: {pair.results / 'README.md'}")
    return table


def _image_figures(card, target, source_dir, step, tuned_dir, results: epath.Path) -> None:
    """Target reconstructions and latent traversals of the first model, before and after."""
    vae = card.vae()
    preview = target.sample(jax.random.key(1), 8)[0]
    for stage, model_dir, which in (("before", source_dir, step), ("after", tuned_dir, "last")):
        variables, _ = ckpt.load_variables(model_dir, which)
        stacked = jax.tree.map(lambda x: x[None], variables)
        recon = np.asarray(traversals.reconstructions(vae, stacked, preview))[0]
        sweep = np.asarray(traversals.traversals(vae, stacked, preview[:1]))[0]
        save_grid(recon, results / "figures" / f"reconstructions_{stage}.png")
        save_grid(sweep, results / "figures" / f"traversals_{stage}.png")
