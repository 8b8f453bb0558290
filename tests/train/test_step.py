"""The K-step train step: learning, one trace, sweeps = separate runs, 8 devices = 1 device.

Compiles dominate on CPU, so the module compiles few programs (paper VAE, batch 8,
K = 2, with XLA's optimizations off) and shares them between tests.
"""

import functools
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from drl_jax.data import registry
from drl_jax.data.factors import FactorSpace
from drl_jax.data.ground_truth import from_renderer
from drl_jax.models.architectures import make_vae
from drl_jax.models.methods import METHODS, get_method
from drl_jax.train.state import create_sweep_state, create_train_state, make_optimizer
from drl_jax.train.step import make_mesh, make_sweep_train_steps, make_train_steps

BATCH, STEPS_PER_CALL, LATENT = 8, 2, 6
BETAS = (1.0, 2.0, 4.0)
WARMUP_STEPS = 4.0
TRACES = []  # One entry per trace of the toy renderer (two per trace of a pair step).


def _draw(factors):
    """A disc at one of 4 x 4 positions with one of 2 radii: float32 [B, 64, 64, 1]."""
    TRACES.append(factors.shape)
    grid = jnp.arange(64, dtype=jnp.float32)
    center_x, center_y = 14.0 + 12.0 * factors[:, 0], 14.0 + 12.0 * factors[:, 1]
    radius = 5.0 + 4.0 * factors[:, 2]
    distance2 = (grid[None, :, None] - center_y[:, None, None]) ** 2 + (
        grid[None, None, :] - center_x[:, None, None]
    ) ** 2
    return (distance2 < radius[:, None, None] ** 2).astype(jnp.float32)[..., None]


DATA = from_renderer("discs", FactorSpace(("x", "y", "radius"), (4, 4, 2)), 1, _draw)
VAE_MODEL = make_vae("paper", 1, LATENT)
METHOD = METHODS["ada_gvae"]
# Normalised gradient descent (clip to norm 1, then SGD), not Adam: the first Adam steps
# are about lr * sign(gradient), so a LeakyReLU input that rounds to the other side of 0
# on another device count flips whole entries by 2 lr; here it moves them by ~lr * 1e-3.
OPTIMIZER = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.5))


def _hparams(beta):
    return {"beta": beta, "warmup_steps": WARMUP_STEPS}


def _run(steps, state, calls):
    history = []
    for _ in range(calls):
        state, metrics = steps(state, DATA)
        history.append(jax.device_get(metrics))
    return state, history


def _sharded_main(out_path):
    """Run in a process with 8 CPU devices: a sweep of 2 models on a (2, 4) mesh.

    Each model's state lives on one model shard and its batch is split over 4 devices
    (BatchNorm's statistics are then cross-device reductions).
    """
    assert jax.device_count() == 8
    mesh = make_mesh(num_model_shards=2)
    sweep = create_sweep_state(
        jax.vmap(jax.random.key)(jnp.arange(2)),
        VAE_MODEL,
        METHOD,
        OPTIMIZER,
        {"beta": jnp.float32(BETAS[:2]), "warmup_steps": jnp.full(2, WARMUP_STEPS)},
        (64, 64, 1),
        mesh=mesh,
    )
    assert sweep.params["decoder"]["Dense_0"]["kernel"].sharding.spec[0] == "model"
    steps = make_sweep_train_steps(VAE_MODEL, METHOD, OPTIMIZER, BATCH, STEPS_PER_CALL, mesh=mesh)
    sweep, _ = _run(steps, sweep, calls=2)
    assert len(sweep.step.sharding.device_set) == 8
    np.savez(out_path, *jax.tree.leaves(jax.device_get(sweep.params)))


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


@pytest.fixture(scope="module")
def single_steps():
    return make_train_steps(VAE_MODEL, METHOD, OPTIMIZER, BATCH, STEPS_PER_CALL)


@pytest.fixture(scope="module")
def separate_runs(single_steps):
    """Three single-model runs of two calls (seeds 0, 1, 2; BETAS) with one compiled step.

    Returns ([(initial params, final state, metrics per call)] per seed, renders traced).
    """
    runs, traces_before = [], len(TRACES)
    for seed, beta in enumerate(BETAS):
        state = create_train_state(
            jax.random.key(seed), VAE_MODEL, METHOD, OPTIMIZER, _hparams(beta), (64, 64, 1)
        )
        initial = jax.tree.map(jnp.copy, state.params)  # The step donates the state.
        runs.append((initial, *_run(single_steps, state, calls=2)))
    return runs, len(TRACES) - traces_before


def _assert_same_training(params, expected, initial):
    """Per leaf, |params - expected| <= 3% of |expected - initial| (L2 norms).

    Summation order differs between programs (vmap, sharding): ~1e-6 relative, but a
    LeakyReLU input within rounding of 0 may take the other branch, changing that
    gradient entry 50-fold, and Adam turns a near-zero gradient entry whose sign flips
    into a full step the other way: up to 1.4% of a leaf's update measured (a transposed
    conv's kernel, sharded s2d). A wrong batch, key or reduction changes updates by O(1).
    """
    for got, want, start in zip(*map(jax.tree.leaves, (params, expected, initial)), strict=True):
        error, update = np.linalg.norm(got - want), np.linalg.norm(want - start)
        assert update > 0 and error <= 3e-2 * update, (error, update)


def test_steps_lower_the_loss_and_report_metrics(single_steps, separate_runs):
    runs, _ = separate_runs
    _, state, history = runs[0]
    state = jax.tree.map(jnp.copy, state)  # The step donates its input; keep the fixture's.
    state, more = _run(single_steps, state, calls=2)
    history = history + more
    assert int(state.step) == 4 * STEPS_PER_CALL
    first, last = history[0], history[-1]
    # Bernoulli loss of a flat 0.5 image is 4096 ln 2 = 2839 nats; the discs are mostly black.
    assert first["loss_per_step"][0] > 2500
    assert last["loss"] < first["loss"] - 40, [h["loss_per_step"] for h in history]
    expected_keys = {
        "loss", "reconstruction", "kl", "kl_per_dim", "beta", "shared_dims", "active_dims",
        "grad_norm", "param_norm", "update_norm", "loss_per_step",
    }  # fmt: skip
    assert set(first) == expected_keys
    assert first["kl_per_dim"].shape == (LATENT,) and first["loss_per_step"].shape == (2,)
    # beta warms up over 4 steps: steps 0 and 1 give 0 and 0.25; 2 and 3 give 0.5 and 0.75.
    np.testing.assert_allclose([h["beta"] for h in history], [0.125, 0.625, 1.0, 1.0])
    np.testing.assert_allclose(first["loss"], np.mean(first["loss_per_step"]), rtol=1e-6)
    assert first["active_dims"] == np.sum(first["kl_per_dim"] > 0.01)
    assert 0 < first["shared_dims"] < LATENT
    assert first["update_norm"] > 0 and first["grad_norm"] > 0


def test_step_traces_once(single_steps, separate_runs):
    _, traces = separate_runs
    assert traces == 2  # One trace (two renders: x1 and x2) for six calls on three states.


def test_sweep_equals_separate_runs(separate_runs):
    sweep = create_sweep_state(
        jax.vmap(jax.random.key)(jnp.arange(3)),
        VAE_MODEL,
        METHOD,
        OPTIMIZER,
        {"beta": jnp.float32(BETAS), "warmup_steps": jnp.full(3, WARMUP_STEPS)},
        (64, 64, 1),
    )
    steps = make_sweep_train_steps(VAE_MODEL, METHOD, OPTIMIZER, BATCH, STEPS_PER_CALL)
    sweep, history = _run(steps, sweep, calls=2)
    runs, _ = separate_runs
    for index, (initial, state, separate_history) in enumerate(runs):
        model = jax.tree.map(lambda leaf, i=index: leaf[i], sweep)
        np.testing.assert_allclose(
            history[-1]["loss_per_step"][index], separate_history[-1]["loss_per_step"], rtol=1e-5
        )
        _assert_same_training(model.params, state.params, initial)
    # Different betas: the models differ from each other.
    assert history[0]["beta"][2] == 4 * history[0]["beta"][0] > 0


def test_eight_devices_equal_one_device(separate_runs, tmp_path):
    out = tmp_path / "sharded.npz"
    script = (
        f"import importlib.util as u; s = u.spec_from_file_location('t', {__file__!r}); "
        f"m = u.module_from_spec(s); s.loader.exec_module(m); m._sharded_main({str(out)!r})"
    )
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        JAX_PLATFORMS="cpu",
        JAX_DISABLE_MOST_OPTIMIZATIONS="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sharded = np.load(out)
    sharded = [sharded[f"arr_{i}"] for i in range(len(sharded.files))]
    runs, _ = separate_runs
    treedef = jax.tree.structure(runs[0][0])
    initial, expected = (
        jax.tree.map(lambda *leaves: np.stack(leaves), *(run[i] for run in runs[:2]))
        for i in (0, 1)
    )
    _assert_same_training(jax.tree.unflatten(treedef, sharded), expected.params, initial)


def test_make_mesh_and_batch_checks():
    assert jax.config.jax_threefry_partitionable  # Draws independent of the sharding.
    mesh = make_mesh()
    assert dict(mesh.shape) == {"model": 1, "data": jax.device_count()}
    with pytest.raises(ValueError, match="must divide the device count"):
        make_mesh(3 * jax.device_count() + 1)
    with pytest.raises(ValueError, match="reads hparams"):
        create_train_state(
            jax.random.key(0), VAE_MODEL, METHODS["beta_vae"], OPTIMIZER, {"beta": 1.0}, (64, 64, 1)
        )


def test_make_optimizer_clips_then_adam():
    optimizer = make_optimizer(0.1, 1.0)
    params = {"w": jnp.zeros(2)}
    state = optimizer.init(params)
    _, state = optimizer.update({"w": jnp.float32([10.0, 0.0])}, state, params)  # Clipped to 1.
    updates, _ = optimizer.update({"w": jnp.float32([0.5, 0.0])}, state, params)
    # Adam (b1 0.9, b2 0.999) on gradients 1 then 0.5: m = 0.14 / 0.19, v = 0.001249 / 0.001999.
    expected = -0.1 * (0.14 / 0.19) / (np.sqrt(0.001249 / 0.001999) + 1e-8)
    np.testing.assert_allclose(updates["w"], [expected, 0.0], rtol=1e-4)  # Unclipped: -0.0706.


def test_flops_per_step_counts_every_step_of_a_call():
    """XLA counts a loop body once: the K-step program's count is one step's whatever K.
    `flops_per_step` is one step's: a K-step program without a loop counts K times one
    step (its lowered program, which XLA counts without compiling it; the compiled
    one-step program counts up to 5 % less, the multiplies optimization removes), and
    near the hand count (paper architecture, 70 MFLOP per 64x64 image forward, three
    times that with the backward pass, 2 x 8 images)."""
    from drl_jax.train.step import _one_step, flops_per_step

    data = registry.load("procedural_dsprites")
    vae = make_vae("paper", 1, 10)
    method, optimizer = get_method("ada_gvae"), make_optimizer(1e-4, 1.0)
    state = create_train_state(
        jax.random.key(0), vae, method, optimizer, {"beta": 1.0, "warmup_steps": 0.0}, (64, 64, 1)
    )
    one = flops_per_step(vae, method, optimizer, 8, state, data)
    step = functools.partial(_one_step, vae, method, optimizer, 8, 1, None)

    def unrolled(state, data, k):
        for _ in range(k):
            state, _ = step(data, state)
        return state

    lowered = {
        k: jax.jit(functools.partial(unrolled, k=k)).lower(state, data).cost_analysis()["flops"]
        for k in (1, 4)
    }
    np.testing.assert_allclose(lowered[4] / 4, lowered[1], rtol=0.01)
    assert 0.95 < one / lowered[1] <= 1.0
    assert 0.8 < one / (3 * 70e6 * 16) < 1.25
