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

import jax
import ml_collections
import numpy as np
from etils import epath

from drl_jax import evaluate, report
from drl_jax.data import registry, variants
from drl_jax.errors import UsageError
from drl_jax.models import traversals
from drl_jax.models.methods import NO_EXTRA, get_method
from drl_jax.train import checkpoint as ckpt
from drl_jax.train import loop
from drl_jax.train.state import make_optimizer, sweep_state_shape
from drl_jax.train.writers import save_grid
from drl_jax.workdir import save_config

FINETUNE_METHOD = "beta_vae"


def pair_name(source: str, target: str) -> str:
    return f"{source}__to__{target}"


def shared_fovs(config: ml_collections.ConfigDict, source, target) -> tuple[str, ...]:
    """The FoVs source and target share: config.shared_fovs, checked, or every common name."""
    if not config.shared_fovs:
        shared = tuple(n for n in target.factor_names if n in source.factor_names)
    else:
        shared = tuple(config.shared_fovs)
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


def _finetune_cards(cards, target: str) -> list[ckpt.ModelCard]:
    method = get_method(FINETUNE_METHOD)
    tuned = []
    for card in cards:
        hparams = {"beta": card.hparams.get("beta", 1.0), "warmup_steps": 0.0}
        if set(hparams) != set(method.hparam_names):
            raise UsageError(f"fine-tuning reads {method.hparam_names}, got {sorted(hparams)}.")
        tuned.append(
            ckpt.ModelCard(
                model_id=card.model_id,
                architecture=card.architecture,
                channels=card.channels,
                latent_dim=card.latent_dim,
                method=FINETUNE_METHOD,
                hparams=hparams,
                seed=card.seed,
                dataset=target,
            )
        )
    return tuned


def _source_states(cards, source_dirs, keep: int):
    """The source models' final training states, stacked [M, ...], with fine-tuning hparams."""
    source_method = get_method(cards[0].method)
    vae = cards[0].vae()
    keys = np.stack([jax.random.key_data(jax.random.key(c.seed)) for c in cards])
    hparams = {n: np.array([c.hparams[n] for c in cards]) for n in source_method.hparam_names}
    template = sweep_state_shape(
        keys, vae, source_method, make_optimizer(1e-4, 1.0), hparams, (64, 64, cards[0].channels)
    )
    checkpoints = ckpt.ModelCheckpoints(source_dirs, keep)
    step = checkpoints.common_step()
    state = checkpoints.restore(step, template)
    checkpoints.close()
    return state, step


def run(config: ml_collections.ConfigDict):
    """The `transfer` job; returns the report's tables (process 0; None on the others)."""
    if not config.workdir:
        raise UsageError("No output folder: pass --config.workdir=DIR.")
    source_method = loop.check_sweep(config)
    # Everything a user can get wrong is checked before any work starts.
    source_info = registry.describe(config.source.name, config.source.data_dir or None)
    target_info = registry.describe(config.target.name, config.target.data_dir or None)
    shared = shared_fovs(config, source_info, target_info)
    root = epath.Path(config.workdir)
    save_config(root, config)
    cards = loop.model_cards(config, config.source.name, source_info.channels)
    source_dirs = [root / "source" / config.source.name / c.model_id for c in cards]
    pair_dir = root / "transfer" / pair_name(config.source.name, config.target.name)
    tuned_dirs = [pair_dir / c.model_id for c in cards]

    print(f"[1/5] source: {len(cards)} model(s) on {config.source.name}")
    source = registry.load(
        config.source.name,
        data_dir=config.source.data_dir or None,
        background=config.source.background,
    )
    warmup = max(c.hparams.get("warmup_steps", 0.0) for c in cards)
    schedule = loop.schedule_from_config(
        config.train, config.train.steps, config.method.pair_k, int(warmup)
    )
    loop.train(
        source,
        cards,
        source_dirs,
        source_method,
        config.train.learning_rate,
        config.train.grad_clip_norm,
        schedule,
        description=f"source {config.source.name}",
    )
    del source

    target = registry.load(
        config.target.name,
        data_dir=config.target.data_dir or None,
        background=config.target.background,
    )
    if target.channels != source_info.channels:
        print(
            f"      {config.target.name} has {target.channels} channel(s), the models "
            f"{source_info.channels}: converting the target (variants.to_channels)."
        )
        target = variants.to_channels(target, source_info.channels)

    print(f"[2/5] before: evaluating the source models on {config.target.name}")
    evaluate.evaluate_models(
        source_dirs,
        target,
        [d / "before" for d in tuned_dirs],
        config.eval,
        which=config.checkpoint,
        description="before",
    )

    print(f"[3/5] finetune: {config.finetune.steps} steps of {FINETUNE_METHOD} on the target")
    states, source_step = _source_states(cards, source_dirs, config.train.keep_checkpoints)
    tuned_cards = _finetune_cards(cards, config.target.name)
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
        config.finetune.learning_rate,
        config.finetune.grad_clip_norm,
        loop.schedule_from_config(
            config.finetune, source_step + config.finetune.steps, 1, source_step
        ),
        initial_state=states,
        description=f"finetune {config.target.name}",
    )

    print(f"[4/5] after: evaluating the fine-tuned models on {config.target.name}")
    evaluate.evaluate_models(
        tuned_dirs,
        target,
        [d / "after" for d in tuned_dirs],
        config.eval,
        which="last",
        description="after",
    )

    results = pair_dir / "results"
    if jax.process_index() != 0:  # One host writes the report.
        return None
    if _report_is_current(pair_dir, tuned_dirs):
        print(f"[5/5] report: up to date in {results}")
        return (results / "transfer_table.md").read_text()
    print(f"[5/5] report: {results}")
    _image_figures(
        cards[0], target, source_dirs[0], tuned_dirs[0], pair_dir / "results" / "figures"
    )
    table = report.write_report(pair_dir, shared_fovs=shared)
    print(table)
    print(f"Tables and figures: {pair_dir / 'results' / 'README.md'}")
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
    for stage, model_dir, which in (("before", source_dir, "last"), ("after", tuned_dir, "last")):
        variables, _ = ckpt.load_variables(model_dir, which)
        stacked = jax.tree.map(lambda x: x[None], variables)
        recon = np.asarray(traversals.reconstructions(vae, stacked, preview))[0]
        sweep = np.asarray(traversals.traversals(vae, stacked, preview[:1]))[0]
        save_grid(recon, folder / f"reconstructions_{stage}.png")
        save_grid(sweep, folder / f"traversals_{stage}.png")
