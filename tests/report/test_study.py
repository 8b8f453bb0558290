"""The study job on a workdir of synthetic metrics.json files with known values: the summary
tables are the means over the files, the long table has a row per file, the LaTeX is a
well-formed booktabs fragment, the correlations are scipy's, figures or their reasons."""

import csv
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, load_config
from scipy import stats

from drl_jax.errors import UsageError
from drl_jax.jobs import study as study_job
from drl_jax.report import study, write_study

FOVS = ("shape", "scale", "pos_x")
SOURCE = "src"
PAIRS = ("src__to__tgt_one", "src__to__tgt_two")
BETAS = (1.0, 2.0)
SEEDS = (0, 1, 2)
ALPHAS = [f"{0.1 * i:.1f}" for i in range(11)]
LATENT_DIM = 4
UNFINISHED = "ada_gvae_beta2_seed2"  # in PAIRS[1], evaluated before but not after


def model_id(beta, seed):
    return f"ada_gvae_beta{beta:g}_seed{seed}"


def metrics_json(rng, beta, seed, trained_on, dataset, grid=True):
    """A metrics.json in the evaluate job's layout; `grid=False` lacks BetaVAE/FactorVAE."""

    def score():
        return float(rng.uniform())

    def per_fov():
        return [score() for _ in FOVS]

    def by_fov():
        return dict(zip(FOVS, per_fov(), strict=True))

    def matrix():
        return [per_fov() for _ in range(LATENT_DIM)]

    os_max = by_fov()
    os_max["shape"] = None if seed == 1 else os_max["shape"]  # an unmeasured FoV
    metrics = {
        "request": {
            "model": {
                "model_id": model_id(beta, seed),
                "architecture": "dlib",
                "channels": 1,
                "latent_dim": LATENT_DIM,
                "method": "ada_gvae",
                "hparams": {"beta": beta, "warmup_steps": 500.0},
                "seed": seed,
                "dataset": trained_on,
            },
            "checkpoint": {"folder": "/x", "which": "last", "step": 1500, "fingerprint": "ab12"},
            "dataset": {"name": dataset, "prepared": "procedural", "channels": 1},
            "settings": {"metrics": ["omes", "mig"], "num_samples": 3000, "num_train": 2000},
        },
        "versions": {"drl_jax": "0.1.0", "jax": "0.10.2"},
        "omes": {
            "max": {a: score() for a in ALPHAS},
            "avg": {a: score() for a in ALPHAS},
            "per_fov": {p: {a: by_fov() for a in ALPHAS} for p in ("max", "avg")},
            "os": {"max": os_max, "avg": by_fov()},
            "mes": {"max": by_fov(), "avg": by_fov()},
            "association": {fov: j for j, fov in enumerate(FOVS)},
            "inactive": [3],
            "n_pairs": {fov: 100 for fov in FOVS},
        },
        "mig": {
            "mig": score(),
            "mig_per_fov": per_fov(),
            "mutual_info": matrix(),
            "entropy": per_fov(),
        },
        "dci": {
            "dci_disentanglement": score(),
            "dci_completeness": score(),
            "dci_disentanglement_per_code": [score() for _ in range(LATENT_DIM)],
            "dci_completeness_per_fov": per_fov(),
            "dci_informativeness_train": score(),
            "dci_informativeness_test": score(),
            "dci_informativeness_test_per_fov": per_fov(),
            "dci_importance": matrix(),
        },
        "sap": {"sap": score(), "sap_per_fov": per_fov(), "sap_matrix": matrix()},
        "modularity": {
            "modularity": score(),
            "modularity_per_code": [score() for _ in range(LATENT_DIM)],
            "explicitness_train": score(),
            "explicitness_test": score(),
            "explicitness_test_per_fov": per_fov(),
        },
        "downstream": {
            **{f"{k}_{v}": score() for k in ("gbt", "mlp") for v in ("full", "pruned")},
            **{f"{k}_{v}_per_fov": per_fov() for k in ("gbt", "mlp") for v in ("full", "pruned")},
            "pruned_dims": [[0], [1], [2]],
        },
        "elbo": {"elbo": -100 * score(), "reconstruction": 100 * score(), "kl": 10 * score()},
        "seconds": {"omes": 0.1},
    }
    if grid:
        metrics["beta_vae"] = {"beta_vae_train": score(), "beta_vae_eval": score()}
        metrics["factor_vae"] = {
            "factor_vae_train": score(),
            "factor_vae_eval": score(),
            "factor_vae_num_active_dims": 3,
        }
    return metrics


def write_workdir(root):
    """Source models on their own data, two transfers (before/after), one evaluation on
    another dataset; returns {relative path: metrics}."""
    rng = np.random.default_rng(0)
    files = {}
    for beta in BETAS:
        for seed in SEEDS:
            name = model_id(beta, seed)
            files[f"eval/{SOURCE}/{name}/metrics.json"] = metrics_json(
                rng, beta, seed, SOURCE, SOURCE
            )
            for pair in PAIRS:
                target = pair.split("__to__")[1]
                grid = pair == PAIRS[0]
                for stage in ("before", "after"):
                    if stage == "after" and pair == PAIRS[1] and name == UNFINISHED:
                        continue
                    trained_on = SOURCE if stage == "before" else target
                    files[f"transfer/{pair}/{name}/{stage}/metrics.json"] = metrics_json(
                        rng, beta, seed, trained_on, target, grid
                    )
    files[f"other/{SOURCE}/{model_id(1.0, 0)}/metrics.json"] = metrics_json(
        rng, 1.0, 0, SOURCE, "elsewhere"
    )
    for path, metrics in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(metrics))
    return files


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    files = write_workdir(root)
    result = write_study(root)
    return root, files, result


def overall(metrics, column):
    """A summary column's "All" value of one model, as the paper defines it (test's own)."""
    if column in ("os", "mes"):
        values = [v for v in metrics["omes"][column]["max"].values() if v is not None]
        return np.mean(values)
    block, key = {"dci": ("dci", "dci_disentanglement"), "mig": ("mig", "mig")}.get(
        column, ("downstream", column)
    )
    return metrics[block][key]


def read_csv(path):
    return list(csv.DictReader(path.open()))


def stage_files(files, pair, stage):
    """The metrics of a transfer's stage, by path."""
    prefix = f"transfer/{pair}/"
    return {k: m for k, m in files.items() if k.startswith(prefix) and f"/{stage}/" in k}


def test_summary_tables_are_the_means_over_models(workdir):
    root, files, result = workdir
    rows = read_csv(root / "study" / "summary.csv")
    table = {(r["pair"], r["fov"], r["metric"]): r for r in rows}
    for pair in PAIRS:
        after = list(stage_files(files, pair, "after").values())
        finished = {m["request"]["model"]["model_id"] for m in after}
        before = [
            m
            for m in stage_files(files, pair, "before").values()
            if m["request"]["model"]["model_id"] in finished
        ]
        assert len(before) == (6 if pair == PAIRS[0] else 5)  # the unfinished model is left out
        for column in study.SUMMARY_COLUMNS:
            row = table[(pair, "All", column)]
            mean_before = np.mean([overall(m, column) for m in before])
            mean_after = np.mean([overall(m, column) for m in after])
            assert float(row["before"]) == pytest.approx(mean_before, abs=1e-6), (pair, column)
            assert float(row["after"]) == pytest.approx(mean_after, abs=1e-6), (pair, column)
            assert float(row["change"]) == pytest.approx(mean_after - mean_before, abs=1e-6)
            assert row["models_before"] == str(len(before))
        per_fov = np.mean([m["downstream"]["gbt_full_per_fov"][2] for m in before])
        assert float(table[(pair, "pos_x", "gbt_full")]["before"]) == pytest.approx(
            per_fov, abs=1e-6
        )
    # The Markdown cell of the first transfer's MIG, as the paper prints it.
    mig = np.mean([m["mig"]["mig"] for m in stage_files(files, PAIRS[0], "before").values()])
    change = (
        np.mean([m["mig"]["mig"] for m in stage_files(files, PAIRS[0], "after").values()]) - mig
    )
    line = next(x for x in result.summary.splitlines() if x.startswith("| src -> tgt_one |"))
    assert line.endswith(f"| {100 * mig:.1f} ({100 * change:+.1f}) |")
    header = result.summary.splitlines()[0]
    assert (
        header
        == "| Transfer | GBT full | GBT pruned | MLP full | MLP pruned | OS | MES | DCI | MIG |"
    )
    assert (root / "study" / "summary.md").read_text() == result.summary


def test_long_table_has_a_row_per_file_and_every_scalar(workdir):
    root, files, _ = workdir
    rows = read_csv(root / "study" / "long_table.csv")
    assert [r["path"] for r in rows] == sorted(files)
    by_path = {r["path"]: r for r in rows}
    expected_stage = {
        "eval/": ("source", ""),
        "other/": ("evaluate", ""),
        f"transfer/{PAIRS[0]}/": (None, PAIRS[0]),
        f"transfer/{PAIRS[1]}/": (None, PAIRS[1]),
    }
    for path, metrics in files.items():
        row = by_path[path]
        stage, pair = next(v for k, v in expected_stage.items() if path.startswith(k))
        assert row["stage"] == (stage or path.split("/")[-2]), path
        request = metrics["request"]
        assert row["pair"] == pair and row["source"] == SOURCE
        assert row["dataset"] == request["dataset"]["name"]
        assert float(row["hparams.beta"]) == request["model"]["hparams"]["beta"]
        assert int(row["seed"]) == request["model"]["seed"]
        # The request record: what the numbers answer.
        assert row["checkpoint.fingerprint"] == "ab12" and row["checkpoint.step"] == "1500"
        assert row["dataset.prepared"] == "procedural"
        assert row["settings.num_samples"] == "3000" and row["settings.metrics"] == "omes,mig"
        assert row["versions.jax"] == "0.10.2"
        assert float(row["omes.max.0.5"]) == metrics["omes"]["max"]["0.5"]
        assert (
            float(row["omes.per_fov.max.0.5.pos_x"])
            == metrics["omes"]["per_fov"]["max"]["0.5"]["pos_x"]
        )
        assert (
            float(row["downstream.gbt_full_per_fov.scale"])
            == metrics["downstream"]["gbt_full_per_fov"][1]
        )
        assert float(row["mig.mig_per_fov.shape"]) == metrics["mig"]["mig_per_fov"][0]
        assert float(row["dci.dci_disentanglement"]) == metrics["dci"]["dci_disentanglement"]
        os_shape = metrics["omes"]["os"]["max"]["shape"]
        assert row["omes.os.max.shape"] == ("" if os_shape is None else repr(os_shape))
        grid = "beta_vae" in metrics
        assert (row["factor_vae.factor_vae_eval"] != "") == grid
    columns = set(rows[0])
    assert not any(c.startswith(("seconds", "checkpoint.folder")) for c in columns)
    # Matrices and per-code lists are not per-model scalars.
    assert not any(
        c.startswith(("mig.mutual_info", "dci.dci_importance", "sap.sap_matrix")) for c in columns
    )
    assert not any("per_code" in c or "pruned_dims" in c for c in columns)


def test_list_per_fov_values_are_named_fovN_without_omes():
    metrics = metrics_json(np.random.default_rng(1), 1.0, 0, SOURCE, SOURCE)
    del metrics["omes"]
    row = study.long_row(study.evaluation(f"x/{SOURCE}/m/metrics.json", metrics))
    assert row["stage"] == "source"
    assert row["mig.mig_per_fov.fov2"] == metrics["mig"]["mig_per_fov"][2]
    assert (
        row["downstream.mlp_pruned_per_fov.fov0"] == metrics["downstream"]["mlp_pruned_per_fov"][0]
    )


def check_tabular(text):
    """A booktabs tabular fragment: one environment, rules in order, every row as wide as
    the column spec, nothing LaTeX would misread."""
    lines = text.strip().splitlines()
    spec = re.fullmatch(r"\\begin\{tabular\}\{(lr*)\}", lines[0])
    assert spec, lines[0]
    assert lines[-1] == r"\end{tabular}"
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
    assert "\\begin{table}" not in text
    assert [lines[1], lines[3], lines[-2]] == [r"\toprule", r"\midrule", r"\bottomrule"]
    rows = [lines[2], *lines[4:-2]]
    for row in rows:
        assert row.endswith(r" \\"), row
        assert len(re.split(r"(?<!\\)&", row)) == len(spec.group(1)), row
    assert not re.search(r"(?<!\\)_", text)
    assert not re.search(r"(?<!\\)[%#]", text)
    return rows


def test_latex_tables_are_booktabs_fragments(workdir):
    root, _, _ = workdir
    rows = check_tabular((root / "study" / "summary.tex").read_text())
    assert len(rows) == 1 + len(PAIRS)
    assert rows[1].startswith(r"src $\rightarrow$ tgt\_one & ")
    for pair in PAIRS:
        rows = check_tabular((root / "study" / "tables" / f"{pair}.tex").read_text())
        assert [r.split(" & ")[0] for r in rows[1:]] == ["shape", "scale", r"pos\_x", "All"]


def headline(metrics, key):
    """The figures' per-model values, from the files (test's own reading)."""
    omes = metrics["omes"]
    values = {
        "omes_max": omes["max"]["0.5"],
        "os_max": np.mean([v for v in omes["os"]["max"].values() if v is not None]),
        "mes_max": np.mean(list(omes["mes"]["max"].values())),
        "dci_disentanglement": metrics["dci"]["dci_disentanglement"],
        "mig": metrics["mig"]["mig"],
        "sap": metrics["sap"]["sap"],
        "modularity": metrics["modularity"]["modularity"],
        "elbo": metrics["elbo"]["elbo"],
        "reconstruction": metrics["elbo"]["reconstruction"],
        "gbt_full": metrics["downstream"]["gbt_full"],
        "mlp_full": metrics["downstream"]["mlp_full"],
    }
    return values[key]


def read_matrix(path):
    rows = read_csv(path)
    columns = [c for c in rows[0] if c != "metric"]
    return (
        [r["metric"] for r in rows],
        columns,
        np.array([[float(r[c]) for c in columns] for r in rows]),
    )


@pytest.mark.parametrize("name", ["metric_correlation", "performance_correlation"])
def test_spearman_correlations_are_scipys(workdir, name):
    root, files, _ = workdir
    rows, columns, matrix = read_matrix(root / "study" / "figures" / f"{name}.csv")
    metrics = ["omes_max", "os_max", "mes_max", "dci_disentanglement", "mig", "sap", "modularity"]
    # BetaVAE and FactorVAE are absent from the second transfer's models: left out.
    assert columns == metrics
    assert rows == (
        metrics
        if name == "metric_correlation"
        else ["elbo", "reconstruction", "gbt_full", "mlp_full"]
    )
    models = [files[p] for p in sorted(files)]
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            expected = stats.spearmanr(
                [headline(m, row) for m in models], [headline(m, column) for m in models]
            ).statistic
            np.testing.assert_allclose(matrix[i, j], expected, rtol=0, atol=1e-12)


def test_figures_are_written_and_linked(workdir):
    root, files, _ = workdir
    readme = (root / "study" / "README.md").read_text()
    for name in (
        "metric_correlation",
        "metric_distributions",
        "performance_correlation",
        "omes_vs_beta",
        "omes_over_alpha",
    ):
        assert (root / "study" / "figures" / f"{name}.png").read_bytes()[
            :8
        ] == b"\x89PNG\r\n\x1a\n", name
        assert f"](figures/{name}.png)" in readme, name
    grid_less = sum("beta_vae" not in m for m in files.values())
    assert f"FactorVAE left out: absent from {grid_less} of {len(files)} models" in readme
    assert "elsewhere (evaluate): one beta value, left out" in readme  # one model there
    assert "| src -> tgt_two |" in readme and "#### src -> tgt_one" in readme


def test_one_model_one_beta_leaves_every_figure_out_with_its_reason(tmp_path):
    metrics = metrics_json(np.random.default_rng(2), 1.0, 0, SOURCE, SOURCE)
    path = tmp_path / SOURCE / "model" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(metrics))
    result = write_study(tmp_path)
    assert result.summary == "" and not (tmp_path / "study" / "summary.md").exists()
    readme = (tmp_path / "study" / "README.md").read_text()
    assert "No transfer in this workdir" in readme
    assert readme.count("not drawn.") == 5
    assert readme.count("left out: 1 evaluated model(s), it needs at least") == 4
    assert "left out: every panel has one beta value" in readme
    assert not list((tmp_path / "study").rglob("*.png"))
    rows = read_csv(tmp_path / "study" / "long_table.csv")
    assert len(rows) == 1 and rows[0]["stage"] == "source"


def stamps(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_rerun_writes_nothing_and_a_changed_file_recomputes(workdir, tmp_path):
    source_root, _, _ = workdir
    root = tmp_path / "copy"
    shutil.copytree(source_root, root)
    before = stamps(root)  # the copied study is current: its inputs are relative paths
    again = write_study(root)
    assert again.up_to_date and stamps(root) == before
    assert again.summary == (root / "study" / "summary.md").read_text()
    changed = root / "transfer" / PAIRS[0] / model_id(1.0, 0) / "before" / "metrics.json"
    metrics = json.loads(changed.read_text())
    metrics["mig"]["mig"] = 0.123456
    changed.write_text(json.dumps(metrics))
    third = write_study(root)
    assert not third.up_to_date
    rows = {r["path"]: r for r in read_csv(root / "study" / "long_table.csv")}
    assert float(rows[str(changed.relative_to(root))]["mig.mig"]) == 0.123456


def test_no_metrics_and_damaged_metrics_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match=rf"No metrics.json under {tmp_path}: expected"):
        write_study(tmp_path)
    damaged = tmp_path / "a" / "b" / "metrics.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"model": ')
    with pytest.raises(UsageError, match="is not valid JSON"):
        write_study(tmp_path)


def test_job_reads_its_config(workdir):
    config = load_config("study")
    config.workdir = str(workdir[0])
    assert study_job.run(config).up_to_date
    config.workdir = ""
    with pytest.raises(UsageError, match="No workdir"):
        study_job.run(config)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "drl_jax.main", "--config=configs/study.py", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_cli_writes_the_study_and_names_an_empty_workdir(workdir, tmp_path):
    root = tmp_path / "cli"
    shutil.copytree(workdir[0], root)  # a current study: only --config.force rewrites it
    readme = root / "study" / "README.md"
    stamp = readme.stat().st_mtime_ns
    result = run_cli(f"--config.workdir={root}", "--config.force=True")
    assert result.returncode == 0, result.stderr
    assert "| src -> tgt_one |" in result.stdout and f"Study: {readme}" in result.stdout
    assert readme.stat().st_mtime_ns > stamp
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = run_cli(f"--config.workdir={empty}")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"drl_jax: error: No metrics.json under {empty}: expected evaluated models, e.g. "
        "transfer/<source>__to__<target>/<model_id>/before/metrics.json (a transfer run) "
        "or <source>/<model_id>/<dataset>/<which>/metrics.json (an evaluate run)."
    ]
