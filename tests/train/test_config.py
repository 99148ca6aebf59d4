"""Typed configs: flags map onto fields, unknown keys and wrong types are refused, differences are listed."""

from __future__ import annotations

import argparse
import json

import pytest

from lstmkit.train import (TrainConfig, add_config_args, config_diff, config_from_args, config_from_dict,
                           parse_duration, read_config_file)


def _parser():
    p = argparse.ArgumentParser()
    add_config_args(p, TrainConfig)
    return p


def test_flags_map_onto_fields_and_unset_flags_keep_defaults():
    args = _parser().parse_args(["--max-steps", "7", "--lr", "1e-3", "--schedule", "step", "--tensorboard",
                                 "--max-time", "1h30m"])
    cfg = config_from_args(TrainConfig, args)
    assert (cfg.max_steps, cfg.lr, cfg.schedule, cfg.tensorboard, cfg.max_time) == (7, 1e-3, "step", True, 5400.0)
    assert cfg.warmup_steps == TrainConfig().warmup_steps
    assert config_from_args(TrainConfig, _parser().parse_args([]), {"seed": 3}).seed == 3   # base kept


def test_bad_flag_values_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--schedule", "linear"])
    assert "invalid choice: 'linear'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["--max-time", "soon"])


def test_unknown_keys_and_wrong_types_are_refused():
    with pytest.raises(ValueError, match=r"unknown config keys 'lr_max', 'epochs' for train; valid keys: seed"):
        config_from_dict(TrainConfig, {"lr_max": 1, "epochs": 2})
    with pytest.raises(TypeError, match=r"max_steps must be int, got str \('10'\)"):
        config_from_dict(TrainConfig, {"max_steps": "10"})
    assert config_from_dict(TrainConfig, {"lr": 1}).lr == 1.0                 # int where float is expected


@pytest.mark.parametrize("key,value,message", [("max_steps", 0, "max_steps must be >= 1, got 0"),
                                               ("lr", -1.0, "lr must be > 0, got -1.0"),
                                               ("beta2", 1.0, r"beta2 must be in \[0, 1\), got 1.0"),
                                               ("schedule", "linear", "schedule must be one of")])
def test_out_of_range_values_name_expected_and_actual(key, value, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict(TrainConfig, {key: value})


def test_diff_lists_changes_and_skips_control_settings():
    a, b = TrainConfig(), TrainConfig(lr=1e-3, max_time=60.0, seed=2)
    assert config_diff(a, b) == ["seed: 0 in the run, 2 now", "lr: 0.002 in the run, 0.001 now"]
    assert "max_time: 0.0 in the run, 60.0 now" in config_diff(a, b, include_control=True)


def test_config_file(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"task": "train", "lr": 0.01}))
    assert read_config_file(f, "train") == {"lr": 0.01}
    f.write_text(json.dumps({"task": "charlm"}))
    with pytest.raises(ValueError, match="is for task 'charlm'; expected 'train'"):
        read_config_file(f, "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_config_file(tmp_path / "nope.json", "train")


def test_durations():
    assert [parse_duration(v) for v in ("45", "45s", "2m", "1.5h", "1h2m3s", 0)] == [45, 45, 120, 5400, 3723, 0]
    for bad in ("", "abc", "3 minutes", "-5"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
