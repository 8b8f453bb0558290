"""benchmarks/accelerator.py end to end on CPU at its tiny sizes."""

import re
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import accelerator  # noqa: E402
import bench_evaluate  # noqa: E402

from drl_jax import metrics  # noqa: E402


def _table(text: str, heading: str) -> list[list[str]]:
    """The cells of the markdown table under `heading`, header and rule left out."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_accelerator_benchmark_writes_every_part(tmp_path, monkeypatch):
    # One formulation (each compiles its own train step); all are tested equal to flax's
    # modules in tests/models/test_architectures.py.
    argv = ["accelerator.py", "--size", "tiny", "--convs", "s2d", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    accelerator.main()
    (path,) = tmp_path.glob("accelerator_*.md")
    text = path.read_text()
    assert text.startswith("# drl_jax on cpu (cpu, ")
    sizes = accelerator.SIZES["tiny"]
    training = _table(text, "## Training")
    assert [(r[0], int(r[1]), int(r[2])) for r in training] == [
        ("**s2d**", m, b) for m, b in sizes.training
    ]  # the fastest (the only) formulation of each case in bold
    # images/s = 2 x batch x models / step time; the 400k-step hours follow from it.
    for _, models, batch, _, ms, rate, _, hours, _ in training:
        expected = 2 * int(batch) * int(models) / (float(ms) / 1000)
        assert abs(float(rate.replace(",", "")) - expected) <= 0.01 * expected + 1
        per_model = 400_000 * float(ms) / 1000 / int(models) / 3600
        assert abs(float(hours.split()[0]) - per_model) <= 0.01 * per_model + 0.01
    evaluation = _table(text, "## Evaluation")
    assert len(evaluation) == 3 and all(float(r[1]) > 0 for r in evaluation)
    assert re.search(r"calls of \d+ models x \d+ images", evaluation[0][0])
    # The default suite, per model: the encoding stages, every metric of DEFAULT (on CPU
    # BetaVAE's and FactorVAE's points are drawn in scoring), the total (their sum), the
    # compilation and the projection to 100 checkpoints.
    suite = _table(text, "## The evaluate job's default suite")
    parts = [r[0] for r in suite]
    assert parts[0].startswith("encode 300 samples") and parts[1].startswith("encode 20 OMES")
    assert parts[3:-3] == list(metrics.DEFAULT)
    assert parts[-3:] == ["total per model", "compilation, once", "100 checkpoints"]
    seconds = [float(r[1]) for r in suite[:-3]]
    assert abs(float(suite[-3][1]) - sum(seconds)) <= 0.05 * len(seconds) + 0.1
    images = {r[0]: int(r[2].replace(",", "")) for r in suite[:-3] if r[2]}
    assert images["beta_vae"] == bench_evaluate.beta_vae_images(sizes.suite_options)
    assert images["factor_vae"] == bench_evaluate.factor_vae_images(sizes.suite_options)
    # 100 x (the evaluation's encoding per model + the suite's metrics) + compilation once.
    encode = sum(float(r[1]) for r in evaluation) / sizes.eval_models
    expected = 100 * (encode + sum(seconds[3:])) + float(suite[-2][1])
    tolerance = 100 * 0.05 * len(seconds) + 0.01 * expected + 1
    assert abs(float(suite[-1][1]) - expected) <= tolerance
