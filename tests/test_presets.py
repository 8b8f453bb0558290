"""Config presets: names, typed key=value overrides, clear errors."""

import pytest
from conftest import load_config


def test_preset_and_overrides_with_commas_inside_brackets():
    config = load_config("train_source", "quick,sweep.seeds=(0, 1, 2),train.learning_rate=0.5")
    assert config.train.steps == 2_000  # from the preset
    assert config.sweep.seeds == (0, 1, 2)
    assert config.train.learning_rate == 0.5 and isinstance(config.train.learning_rate, float)


def test_int_fields_stay_int_and_bools_parse():
    config = load_config("transfer", "tiny,train.steps=30,eval.n_jobs=2")
    assert config.train.steps == 30 and isinstance(config.train.steps, int)
    config = load_config("omes", "overwrite=True")
    assert config.overwrite is True


def test_unknown_preset_and_key_are_named():
    with pytest.raises(ValueError, match="Unknown preset 'fast'; valid presets: quick, sweep"):
        load_config("train_source", "fast")
    with pytest.raises(KeyError, match="train.stepz"):
        load_config("train_source", "train.stepz=3")


def test_config_metric_list_is_the_registry():
    from drl_jax.metrics import DEFAULT

    load_config("evaluate")  # puts configs/ on the import path
    import common  # configs/common.py

    assert common.METRICS == DEFAULT
    assert load_config("transfer").eval.metrics == DEFAULT


def test_quick_real_is_quick_from_synthetic_dsprites_to_real_coil100(tmp_path):
    from drl_jax.data import registry
    from drl_jax.data.tfds import readers
    from drl_jax.jobs.transfer import shared_fovs

    config = load_config("transfer", "quick_real")
    names = ("procedural_color_dsprites", "coil100_augmented")
    assert (config.source.name, config.target.name) == names
    quick = load_config("transfer", "quick")
    quick.source.name, quick.target.name = names
    assert config.to_dict() == quick.to_dict()  # sized like quick: only the data differ

    source = registry.describe(config.source.name)  # procedural: no data needed
    with pytest.raises(readers.DatasetNotPreparedError, match="prepare coil100_augmented"):
        registry.describe(config.target.name, str(tmp_path))
    # The target's FoVs without its photographs: the builder's declared features.
    space, channels, is_grid = readers.declared(config.target.name, str(tmp_path))
    target = registry.Description(config.target.name, space.names, space.sizes, channels, is_grid)
    assert target.factor_names == ("object", "pose", "rotation", "scale")
    assert target.factor_sizes == (100, 72, 18, 9)
    assert source.channels == target.channels == 3  # RGB to RGB: no channel conversion
    assert shared_fovs(config.shared_fovs, source, target) == ("scale",)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_config_blocks_hold_the_settings_defaults_field_by_field():
    """Each default has one definition, the settings dataclass; the config blocks (which
    import no JAX) repeat them, and this test keeps the two equal, key by key."""
    import dataclasses

    from drl_jax.evaluation import EvaluationSettings
    from drl_jax.metrics import MetricOptions
    from drl_jax.train.loop import TrainSettings

    load_config("evaluate")  # puts configs/ on the import path
    import common  # configs/common.py

    settings = EvaluationSettings()
    expected = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(EvaluationSettings)
        if f.name not in ("options", "conv")  # options: the fields below; conv: config.model
    } | dataclasses.asdict(MetricOptions())
    block = common.evaluation().to_dict()
    assert sorted(block) == sorted(expected)
    for key, value in expected.items():
        assert _plain(block[key]) == _plain(value), key
    assert common.model().conv == settings.conv
    assert common.train().to_dict() == dataclasses.asdict(TrainSettings())
