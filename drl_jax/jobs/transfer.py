"""The transfer protocol of SPEC section 4, as one resumable job.

Stages, each skipped when done and resumed when interrupted (workdir layout of
DESIGN.md):
  1. source    train the sweep's models on the source dataset (weak supervision),
               WORKDIR/source/<source>/<model_id>/ (shared by every target);
  2. before    evaluate the source encoders, unchanged, on the target:
               WORKDIR/transfer/<source>__to__<target>/<model_id>/before/;
  3. finetune  unsupervised fine-tuning on the target: plain VAE ELBO (`beta_vae`)
               with each model's own beta and seed, continuing its optimizer state
               and step count, for finetune.steps steps: .../<model_id>/checkpoints/;
  4. after     evaluate the fine-tuned models: .../<model_id>/after/;
  5. report    tables and figures: .../results/ (see drl_jax.report).
A target with another channel count than the source is converted for the models
(gray repeated to RGB, RGB to luminance: drl_jax.data.variants.to_channels).
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
from drl_jax.models import traversals
from drl_jax.models.methods import NO_EXTRA, get_method
from drl_jax.report import write_report, write_study
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop
from drl_jax.train.state import make_optimizer, sweep_state_shape
from drl_jax.train.writers import save_grid
from drl_jax.workdir import save_config

FINETUNE_METHOD = "beta_vae"


def pair_name(source: str, target: str) -> str:
    return f"{source}__to__{target}"


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


@dataclasses.dataclass(frozen=True)
class _Folders:
    """Where each stage of a transfer writes (DESIGN.md workdir layout)."""

    source: list[epath.Path]  # WORKDIR/source/<source>/<model_id>
    pair: epath.Path  # WORKDIR/transfer/<source>__to__<target>
    tuned: list[epath.Path]  # pair/<model_id>: fine-tuned checkpoints, before/, after/


def run(config: ml_collections.ConfigDict):
    """The `transfer` job; returns the report's table (process 0; None on the others)."""
    common.require(config.workdir, "No output folder: pass --config.workdir=DIR.")
    # Everything a user can get wrong is checked before any work starts.
    source_method = common.method(config)
    source_info = common.describe(config.source)
    target_info = common.describe(config.target)
    shared = shared_fovs(config.shared_fovs, source_info, target_info)
    settings = common.evaluation_settings(config.eval, common.conv(config.model))
    root = epath.Path(config.workdir)
    save_config(root, config.to_dict())
    cards = common.model_cards(config, source_method, config.source.name, source_info.channels)
    pair = root / "transfer" / pair_name(config.source.name, config.target.name)
    folders = _Folders(
        source=[root / "source" / config.source.name / c.model_id for c in cards],
        pair=pair,
        tuned=[pair / c.model_id for c in cards],
    )

    print(f"[1/5] source: {len(cards)} model(s) on {config.source.name}")
    schedule = common.schedule(
        config.train, config.train.steps, config.method.pair_k, common.warmup_steps(cards)
    )
    loop.train(
        common.load_data(config.source),
        cards,
        folders.source,
        source_method,
        config.train.learning_rate,
        config.train.grad_clip_norm,
        schedule,
        conv=settings.conv,
        description=f"source {config.source.name}",
    )
    target = _target_data(config.target, source_info.channels)
    print(f"[2/5] before: evaluating the source models on {config.target.name}")
    before = [d / "before" for d in folders.tuned]
    evaluate_models(
        folders.source, target, before, settings, which=config.checkpoint, description="before"
    )
    print(f"[3/5] finetune: {config.finetune.steps} steps of {FINETUNE_METHOD} on the target")
    _finetune(config, cards, folders, target)
    print(f"[4/5] after: evaluating the fine-tuned models on {config.target.name}")
    after = [d / "after" for d in folders.tuned]
    evaluate_models(folders.tuned, target, after, settings, which="last", description="after")
    if jax.process_index() != 0:  # One host writes the report.
        return None
    table = _report(cards[0], target, folders, shared)
    print(f"Study of every model in the workdir: {write_study(root).folder / 'README.md'}")
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


def _finetune(config, cards, folders: _Folders, target: GroundTruthData) -> None:
    """Unsupervised fine-tuning: the ELBO with each model's own beta and seed, continuing
    its source optimizer state and step count."""
    states, source_step = _source_states(cards, folders.source, config.train.keep_checkpoints)
    tuned_cards = _finetune_cards(cards, config.target.name)
    tuned_hparams = {
        name: np.array([c.hparams[name] for c in tuned_cards]) for name in tuned_cards[0].hparams
    }
    # The ELBO objective reads only beta; a FactorVAE discriminator is not carried over.
    states = states.replace(hparams=jax.tree.map(np.float32, tuned_hparams), extra=NO_EXTRA)
    loop.train(
        target,
        tuned_cards,
        folders.tuned,
        get_method(FINETUNE_METHOD, reconstruction=config.method.reconstruction),
        config.finetune.learning_rate,
        config.finetune.grad_clip_norm,
        common.schedule(config.finetune, source_step + config.finetune.steps, 1, source_step),
        initial_state=states,
        conv=config.model.conv,  # checked in run
        description=f"finetune {config.target.name}",
    )


def _finetune_cards(cards, target: str) -> list[ckpt.ModelCard]:
    method = get_method(FINETUNE_METHOD)
    tuned = []
    for card in cards:
        hparams = {"beta": card.hparams.get("beta", 1.0), "warmup_steps": 0.0}
        if set(hparams) != set(method.hparam_names):
            raise UsageError(f"fine-tuning reads {method.hparam_names}, got {sorted(hparams)}.")
        tuned.append(
            dataclasses.replace(card, method=FINETUNE_METHOD, hparams=hparams, dataset=target)
        )
    return tuned


def _source_states(cards, source_dirs, keep: int):
    """The source models' final training states, stacked [M, ...], and their step."""
    source_method = get_method(cards[0].method)
    keys = np.stack([jax.random.key_data(jax.random.key(c.seed)) for c in cards])
    hparams = {n: np.array([c.hparams[n] for c in cards]) for n in source_method.hparam_names}
    template = sweep_state_shape(
        keys,
        cards[0].vae(),
        source_method,
        make_optimizer(1e-4, 1.0),
        hparams,
        (64, 64, cards[0].channels),
    )
    checkpoints = ckpt.ModelCheckpoints(source_dirs, keep)
    try:
        step = checkpoints.common_step()
        return checkpoints.restore(step, template), step
    finally:
        checkpoints.close()


def _report(card, target, folders: _Folders, shared: tuple[str, ...]) -> str:
    """Stage 5: the pair's tables and figures, unless newer than every evaluation."""
    results = folders.pair / "results"
    if _report_is_current(folders.pair, folders.tuned):
        print(f"[5/5] report: up to date in {results}")
        return (results / "transfer_table.md").read_text()
    print(f"[5/5] report: {results}")
    _image_figures(card, target, folders.source[0], folders.tuned[0], results / "figures")
    table = write_report(folders.pair, shared_fovs=shared)
    print(table)
    print(f"Tables and figures: {results / 'README.md'}")
    return table


def _report_is_current(pair_dir: epath.Path, tuned_dirs) -> bool:
    """True when results/README.md is newer than every model's after/metrics.json."""
    readme = pair_dir / "results" / "README.md"
    if not readme.exists():
        return False
    newest = max((d / "after" / "metrics.json").stat().mtime for d in tuned_dirs)
    return readme.stat().mtime >= newest


def _image_figures(card, target, source_dir, tuned_dir, folder: epath.Path) -> None:
    """Target reconstructions and latent traversals of the first model, before and after."""
    vae = card.vae()
    preview = target.sample(jax.random.key(1), 8)[0]
    for stage, model_dir in (("before", source_dir), ("after", tuned_dir)):
        variables, _ = ckpt.load_variables(model_dir, "last")
        stacked = jax.tree.map(lambda x: x[None], variables)
        recon = np.asarray(traversals.reconstructions(vae, stacked, preview))[0]
        sweep = np.asarray(traversals.traversals(vae, stacked, preview[:1]))[0]
        save_grid(recon, folder / f"reconstructions_{stage}.png")
        save_grid(sweep, folder / f"traversals_{stage}.png")
