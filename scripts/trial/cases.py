"""The cases of the CLI trial: ``CASES``, a list of dicts the driver (run.py) runs in a work folder.

A case:

    name      unique; --only matches a prefix of it or its group
    group     train_flags | train_inputs | config | resume | out | sample | tag | ctc_lines | forecast | eval |
              inspect | demo | longlag | bench | misc | followup | help | coverage | target | fault
    cmd       a bash command run in the work folder under `timeout`; $L is the lstmkit executable, $PY its
              Python, {W} the work folder's absolute path (also in setup/check)
    expect    'err'  exit 2 (or `rc`), exactly one stderr line, no traceback, and no output left behind: every
                     --out/--json/--plot/--png-dir path that did not exist before the command (and `nodir`)
                     must not exist after it
              'ok'   exit 0, no traceback
              'any'  exit 0 or 2 (or one of `rcs`), no traceback
              'int'  Ctrl-C: exit 130, at most one stderr line, no traceback
    stdin     a file (relative to the work folder) fed to stdin; default /dev/null
    setup     bash run before the command;  check: bash run after it, must exit 0
    timeout   seconds (default: run.py --timeout, 120);  signal: e.g. '-s INT' sends that at the timeout
    rcs       exit statuses 'any' accepts instead of (0, 2);  rc: the status 'err' wants instead of 2
    shell     the cmd is a compound shell command: run it whole under `timeout bash -c` (else `timeout` wraps
              its first command, so signals reach lstmkit itself)
    keep_stdout  keep the whole stdout in the results (the --help cases: run.py reads the flags from it)
    fifo_out  a FIFO made before the command, read to the end while it runs; the bytes land in <fifo>.got
    fifo_in   (fifo, file): a FIFO made before the command, fed that file while it runs
    fn        instead of cmd: a Python function fn(ctx) -> dict(rc, out, err, problems, detail) (process faults)
    needs     base runs (runs/NAME) the case needs besides those its strings name
    serial    run after the parallel cases, alone

Paths are relative to the work folder; fixtures.py makes every file named here.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import time

try:
    from . import fixtures as _fx                  # imported as a package
except ImportError:                                  # imported by path (run.py)
    import fixtures as _fx

CH, TG, CL, CLT, CT, FC, FCC = _fx.CH, _fx.TG, _fx.CL, _fx.CLT, _fx.CT, _fx.FC, _fx.FCC
BASE = _fx.BASE

CASES: list[dict] = []
_group = "misc"


def group(name: str) -> None:
    global _group
    _group = name


def c(name, cmd, expect="err", **kw):
    CASES.append(dict(name=name, cmd=cmd, expect=expect, group=_group, **kw))


def train(name, task, extra, expect="err", out=None, **kw):
    """A training case: the task's tiny base command + extra flags, into runs_t/NAME."""
    out = out or f"runs_t/{name}"
    c(name, f"{BASE[task]} {extra} --out {out}", expect, **kw)


def resume(name, task, src, mut, extra, expect, check=None, maxtime=True):
    """--resume of a copy of base run `src` (runs_r/NAME), after the mutation `mut` (RUN = the copy)."""
    d = f"runs_r/{name}"
    setup = f"rm -rf {d} && cp -r runs/{src} {d}" + (f" && {mut}" if mut else "")
    mt = " --max-time 20s" if maxtime else ""
    c(name, f"$L train {task} --resume {d}{mt} {extra}".rstrip(), expect, setup=setup.replace("RUN", d),
      check=check.replace("RUN", d) if check else None)


NOBEST = "rm -rf runs_r/{n} && cp -r runs/{src} runs_r/{n} && rm -f runs_r/{n}/checkpoints/best*"
UNCHANGED = "cmp -s f/shk_orig.txt {p}"          # the input file an output must not have touched
NPZ3 = "$PY -c \"import numpy as n;d=n.load('{p}');assert len(d['x'])==3, len(d['x'])\""
JSONOK = "$PY -c \"import json;json.load(open('{p}'))\""

# =========================================================================================================
# round 1 (cases1): training flags and flag combinations
group("train_flags")
generic = {
    'max-steps': ['0', '-1', 'nan', '1e30', 'abc', '2.5'],
    'max-time': ['-1', 'nan', 'inf', '-5s', 'abc', '1e400'],
    'lr': ['0', '-1', 'nan', 'inf', '1e30'],
    'min-lr': ['-1', 'nan', '2'],
    'warmup-steps': ['-1', 'nan', '99999999999999999999999'],
    'decay-steps': ['-1', 'nan'],
    'decay-time': ['-1', 'nan', 'inf'],
    'step-every': ['0', '-1'],
    'gamma': ['-1', 'nan', 'inf', '0'],
    'weight-decay': ['-1', 'nan', 'inf'],
    'beta1': ['-0.1', '1', 'nan', '2'],
    'beta2': ['1', 'nan', '-1'],
    'grad-clip': ['-1', 'nan', 'inf'],
    'ema': ['-0.5', '1', 'nan', '2'],
    'eval-every': ['0', '-1', 'nan'],
    'log-every': ['0', '-1'],
    'checkpoint-every': ['-1', 'nan'],
    'patience': ['-1', 'nan'],
    'seed': ['-1', 'nan', '99999999999999999999999', 'abc'],
}
for flag, vals in generic.items():
    for v in vals:
        train(f"gen_{flag}_{v}", 'charlm', f"--{flag} {v}", 'any')

charlm_flags = {
    'val-fraction': ['0', '1', '-0.1', 'nan', '1.5'],
    'batch-size': ['0', '-1'],
    'seq-len': ['0', '-1'],
    'bptt': ['-1', '5'],
    'eval-batch-size': ['0', '-2'],
    'eval-chars': ['-1'],
    'sample-chars': ['-1'],
    'final-sample': ['-1'],
    'temperature': ['0', '-1', 'nan', 'inf'],
    'layers': ['0', '-1'],
    'hidden': ['0', '-1'],
    'embed': ['0'],
    'dropout': ['1', '-0.1', 'nan'],
    'input-dropout': ['1.5'],
    'recurrent-dropout': ['-1'],
    'forget-bias': ['nan', 'inf'],
    'proj-size': ['-1', '100'],
    'zoneout-h': ['1.5'],
    'zoneout-c': ['-1'],
    'zoneout': ['nan'],
    'encoding': ['bogus-enc'],
    'backend': ['bogus'],
    'device': ['bogus', 'cuda:7'],
}
for flag, vals in charlm_flags.items():
    for v in vals:
        train(f"ch_{flag}_{v}", 'charlm', f"--{flag} {v}", 'any')

for n, x in [
    ('ch_gru_peephole', '--cell gru --peephole'),
    ('ch_rnn_layernorm', '--cell rnn --layer-norm'),
    ('ch_lstm_relu', '--cell lstm --nonlinearity relu'),
    ('ch_lstm_zoneout', '--cell lstm --zoneout 0.1'),
    ('ch_gru_zoneouth', '--cell gru --zoneout-h 0.1'),
    ('ch_lstm_resetbefore', '--cell lstm --reset-before'),
    ('ch_gru_cifg', '--cell gru --cifg'),
    ('ch_rnn_forgetbias', '--cell rnn --forget-bias 1.0'),
    ('ch_gru_proj', '--cell gru --proj-size 4'),
    ('ch_constant_gamma', '--schedule constant --gamma 0.3'),
    ('ch_decaytime_steps', '--decay-by steps --decay-time 30'),
    ('ch_decaybytime_nomaxtime', '--decay-by time --max-time 0'),
    ('ch_decaysteps_constant', '--schedule constant --decay-steps 100'),
    ('ch_1layer_dropout', '--layers 1 --dropout 0.5'),
    ('ch_lstm_proj_eq_hidden', '--proj-size 8'),
    ('ch_warmup_gt_max', '--warmup-steps 100 --max-steps 4'),
    ('ch_eval_gt_max', '--eval-every 100'),
    ('ch_text_missing2', '--text shk.txt nonexist.txt'),
    ('ch_text_dash_empty', '--text -'),
    ('ch_ckpt_gt_eval', '--checkpoint-every 7'),
]:
    train(n, 'charlm', x, 'any')

for n, x in [
    ('tg_devfrac_with_dev', '--dev-fraction 0.5'),
    ('tg_devfrac_0', '--dev ""  --dev-fraction 0'),
    ('tg_devfrac_1', '--dev-fraction 1'),
    ('tg_devfrac_nan', '--dev-fraction nan'),
    ('tg_aux_same', '--aux-columns upos'),
    ('tg_aux_bogus', '--aux-columns bogus'),
    ('tg_auxweight_neg', '--aux-columns xpos --aux-weight -1'),
    ('tg_auxweight_nan', '--aux-columns xpos --aux-weight nan'),
    ('tg_auxweight_noaux', '--aux-weight 3'),
    ('tg_mincount_neg', '--min-count -1'),
    ('tg_nodims', '--word-dim 0 --char-hidden 0'),
    ('tg_worddim_neg', '--word-dim -1'),
    ('tg_ls_1.5', '--label-smoothing 1.5'),
    ('tg_ls_neg', '--label-smoothing -0.1'),
    ('tg_ls_nan', '--label-smoothing nan'),
    ('tg_wdrop_1.5', '--word-dropout 1.5'),
    ('tg_dropout_nan', '--dropout nan'),
    ('tg_chardim_0', '--char-dim 0'),
    ('tg_chardim_0_nochar', '--char-dim 0 --char-hidden 0'),
    ('tg_column_head', '--column head'),
    ('tg_column_misc', '--column misc'),
    ('tg_evalbs_0', '--eval-batch-size 0'),
    ('tg_hidden_0', '--hidden 0'),
]:
    train(n, 'tagger', x, 'any')

for n, x in [
    ('cl_maxlen_neg', '--max-len -1'),
    ('cl_mincount_neg', '--min-count -1'),
    ('cl_embed_0', '--embed 0'),
    ('cl_devfrac_1', '--dev-fraction 1'),
    ('cl_devfrac_0', '--dev-fraction 0'),
    ('cl_devfrac_nan', '--dev-fraction nan'),
    ('cl_labels_no_npy', '--labels f/labels.npy'),
    ('cl_devlabels_nodev', '--dev-labels f/labels.npy'),
    ('cl_tokens_word_waves', '--tokens word'),
    ('cl_textcol_waves', '--text-column foo'),
    ('cl_layers_0', '--layers 0'),
    ('cl_hidden_neg', '--hidden -3'),
    ('cl_dropout_1', '--dropout 1'),
    ('cl_evalbs_0', '--eval-batch-size 0'),
    ('cl_rnn_pool_last_bi', '--cell rnn --pooling last'),
]:
    train(n, 'classify', x, 'any')
for n, x in [
    ('clt_textcol_bogus', '--text-column bogus'),
    ('clt_labelcol_bogus', '--label-column bogus'),
    ('clt_same_cols', '--text-column text --label-column text'),
    ('clt_maxlen_0', '--max-len 0'),
    ('clt_mincount_huge', '--min-count 1000000'),
    ('clt_embed_neg', '--embed -1'),
]:
    train(n, 'clstext', x, 'any')

for n, x in [
    ('ctc_mindig_gt_max', '--min-digits 5 --max-digits 3'),
    ('ctc_mingap_gt_max', '--min-gap 5 --max-gap 2'),
    ('ctc_mindig_0', '--min-digits 0'),
    ('ctc_mindig_neg', '--min-digits -1'),
    ('ctc_maxgap_neg', '--min-gap -3 --max-gap -1'),
    ('ctc_noise_neg', '--noise -1'),
    ('ctc_noise_nan', '--noise nan'),
    ('ctc_noise_inf', '--noise inf'),
    ('ctc_vallines_0', '--val-lines 0'),
    ('ctc_vallines_neg', '--val-lines -1'),
    ('ctc_testlines_neg', '--test-lines -1'),
    ('ctc_beam_0', '--beam 0'),
    ('ctc_beam_neg', '--beam -2'),
    ('ctc_layers_0', '--layers 0'),
    ('ctc_maxdig_huge', '--max-digits 100000'),
    ('ctc_testlines0_beam', '--test-lines 0 --beam 4'),
]:
    train(n, 'ctc', x, 'any')

for n, x in [
    ('fc_window_0', '--window 0'),
    ('fc_window_huge', '--window 100000'),
    ('fc_horizon_0', '--horizon 0'),
    ('fc_horizon_neg', '--horizon -1'),
    ('fc_q_no_median', '--quantiles 0.1 0.9'),
    ('fc_q_out_of_range', '--quantiles 0.5 1.5'),
    ('fc_q_nan', '--quantiles nan 0.5'),
    ('fc_q_dup', '--quantiles 0.5 0.5'),
    ('fc_q_zero', '--quantiles 0 0.5 1'),
    ('fc_season_neg', '--season -1'),
    ('fc_season_huge', '--season 100000'),
    ('fc_valfrac_0', '--val-fraction 0'),
    ('fc_valfrac_test_sum', '--val-fraction 0.5 --test-fraction 0.6'),
    ('fc_testfrac_neg', '--test-fraction -0.1'),
    ('fc_testfrac_nan', '--test-fraction nan'),
    ('fc_testfrac_0', '--test-fraction 0'),
    ('fc_dataset_with_csv_target', '--target foo'),
    ('fc_time_nocsv', '--time month'),
    ('fc_cov_nocsv', '--covariates price'),
    ('fc_sunspots_season_rel', '--dataset sunspots --no-relative'),
    ('fc_ar_decoder', '--decoder autoregressive'),
]:
    train(n, 'forecast', x, 'any')
c('fcc_no_target', "$L train forecast --csv series.csv --max-steps 4 --hidden 8 --window 12 --horizon 3 "
  "--no-baselines --out runs_t/fcc_no_target", 'err')
for n, x in [
    ('fcc_target_missing', '--target bogus'),
    ('fcc_time_missing', '--time bogus'),
    ('fcc_cov_missing', '--covariates bogus'),
    ('fcc_cov_is_target', '--covariates sales'),
    ('fcc_time_is_target', '--time sales'),
    ('fcc_cov_is_time', '--time month --covariates month'),
    ('fcc_dataset_with_csv', '--dataset sunspots'),
    ('fcc_csv_missing', '--csv nonexist.csv'),
    ('fcc_csv_dir', '--csv f/adir'),
    ('fcc_csv_empty', '--csv f/empty.csv'),
    ('fcc_csv_bin', '--csv f/bin.csv'),
    ('fcc_csv_latin1', '--csv f/latin1.csv --target label'),
    ('fcc_csv_short', '--csv f/fc_short.csv'),
    ('fcc_csv_missingval', '--csv f/fc_missing.csv'),
    ('fcc_csv_nonnum', '--csv f/fc_nonnum.csv'),
    ('fcc_csv_nancell', '--csv f/fc_nancell.csv'),
    ('fcc_csv_inf', '--csv f/fc_inf.csv'),
    ('fcc_csv_nocol', '--csv f/fc_nocol.csv'),
    ('fcc_csv_dupcol', '--csv f/fc_dupcol.csv'),
    ('fcc_csv_ragged', '--csv f/fc_ragged.csv'),
    ('fcc_csv_const', '--csv f/fc_const.csv'),
    ('fcc_csv_nonnum_missing_ffill', '--csv f/fc_nonnum.csv --non-numeric missing --missing ffill'),
    ('fcc_csv_conllu', '--csv ewt_train.conllu'),
]:
    train(n, 'fcsv', x, 'any')

# =========================================================================================================
# round 2 (cases2): training file inputs, --config, --resume, --out
group("train_inputs")
for n, x, e in [
    ('txt_missing', '--text nonexist.txt', 'err'),
    ('txt_dir', '--text f/adir', 'err'),
    ('txt_empty', '--text f/empty.txt', 'err'),
    ('txt_bin', '--text f/bin.txt', 'err'),
    ('txt_latin1', '--text f/latin1.txt', 'err'),
    ('txt_latin1_enc', '--text f/latin1.txt --encoding latin-1', 'ok'),
    ('txt_latin1_replace', '--text f/latin1.txt --errors replace', 'ok'),
    ('txt_bom', '--text f/bom.txt', 'any'),
    ('txt_tiny', '--text f/tiny.txt', 'any'),
    ('txt_onechar', '--text f/onechar.txt', 'any'),
    ('txt_npz', '--text ctc_test.npz', 'err'),
    ('txt_dup', '--text shk.txt shk.txt', 'any'),
]:
    train(n, 'charlm', x, e)
c('txt_stdin_bin', f"{CH} --text - --out runs_t/txt_stdin_bin", 'any', stdin='f/bin.txt')
c('txt_stdin_ok', f"{CH} --text - --out runs_t/txt_stdin_ok", 'any', stdin='shk.txt')

for n, x, e in [
    ('tr_missing', '--train nonexist.conllu', 'err'),
    ('tr_dir', '--train f/adir', 'err'),
    ('tr_empty', '--train f/empty.conllu', 'err'),
    ('tr_bin', '--train f/bin.conllu', 'err'),
    ('tr_latin1', '--train f/latin1.conllu', 'err'),
    ('tr_trunc', '--train f/trunc.conllu', 'any'),
    ('tr_garbled', '--train f/garbled.conllu', 'err'),
    ('tr_comments', '--train f/comments.conllu', 'err'),
    ('tr_csv', '--train sst.csv', 'err'),
    ('tr_text', '--train shk.txt', 'err'),
    ('dev_missing', '--dev nonexist.conllu', 'err'),
    ('dev_empty', '--dev f/empty.conllu', 'err'),
    ('dev_garbled', '--dev f/garbled.conllu', 'err'),
    ('dev_bin', '--dev f/bin.conllu', 'err'),
    ('dev_comments', '--dev f/comments.conllu', 'err'),
]:
    train(n, 'tagger', x, e)
c('dev_without_train', "$L train tagger --dev ewt_dev.conllu --max-steps 3 --hidden 8 --out runs_t/dev_without_train", 'any')

for n, x, e in [
    ('cd_missing', '--data nonexist.csv', 'err'),
    ('cd_dir', '--data f/adir', 'err'),
    ('cd_empty_csv', '--data f/empty.csv', 'err'),
    ('cd_bin_csv', '--data f/bin.csv', 'err'),
    ('cd_latin1_csv', '--data f/latin1.csv', 'err'),
    ('cd_trunc_csv', '--data f/trunc.csv', 'err'),
    ('cd_nolabel_csv', '--data f/nolabel.csv', 'err'),
    ('cd_header_only', '--data f/header_only.csv', 'err'),
    ('cd_onelabel', '--data f/onelabel.csv', 'err'),
    ('cd_empty_jsonl', '--data f/empty.jsonl', 'err'),
    ('cd_trunc_jsonl', '--data f/trunc.jsonl', 'err'),
    ('cd_notobj_jsonl', '--data f/notobj.jsonl', 'err'),
    ('cd_bin_jsonl', '--data f/bin.jsonl', 'err'),
    ('cd_npy_nolabels', '--data f/seqs.npy', 'err'),
    ('cd_npy_ok', '--data f/seqs.npy --labels f/labels.npy', 'ok'),
    ('cd_npy_labels_short', '--data f/seqs.npy --labels f/labels_short.npy', 'err'),
    ('cd_npy_labels_float', '--data f/seqs.npy --labels f/labels_float.npy', 'err'),
    ('cd_npy_nan', '--data f/seqs_nan.npy --labels f/labels.npy', 'err'),
    ('cd_npy_trunc', '--data f/trunc.npy --labels f/labels.npy', 'err'),
    ('cd_npy_obj', '--data f/obj.npy --labels f/labels.npy', 'err'),
    ('cd_npy_bin', '--data f/bin.npy --labels f/labels.npy', 'err'),
    ('cd_npy_empty', '--data f/empty.npy --labels f/labels.npy', 'err'),
    ('cd_npy_labels_missing', '--data f/seqs.npy --labels nonexist.npy', 'err'),
    ('cd_npy_labels_dir', '--data f/seqs.npy --labels f/adir', 'err'),
    ('cd_npy_labels_are_csv', '--data f/seqs.npy --labels sst.csv', 'err'),
    ('cd_txt', '--data shk.txt', 'err'),
    ('cd_tsv', '--data f/sst.tsv', 'err'),
    ('cd_conllu', '--data ewt_train.conllu --tokens word', 'any'),
    ('cd_dev_missing', '--data sst.csv --dev nonexist.csv', 'err'),
    ('cd_dev_bin', '--data sst.csv --dev f/bin.csv', 'err'),
    ('cd_dev_other_format', '--data sst.csv --dev f/seqs.npy --dev-labels f/labels.npy', 'err'),
    ('cd_dev_unseen_label', '--data sst.csv --dev f/latin1_utf8.csv', 'any'),
    ('cd_npy_dev_nolabels', '--data f/seqs.npy --labels f/labels.npy --dev f/seqs.npy', 'err'),
    ('cd_npy_tokens_word', '--data f/seqs.npy --labels f/labels.npy --tokens word', 'any'),
    ('cd_npy_textcol', '--data f/seqs.npy --labels f/labels.npy --text-column foo', 'any'),
    ('cd_csv_labels', '--data sst.csv --labels f/labels.npy', 'any'),
]:
    train(n, 'classify', x, e)

group("config")
for n, x, e in [
    ('cfg_bad', '--config f/cfg_bad.json', 'err'),
    ('cfg_list', '--config f/cfg_list.json', 'err'),
    ('cfg_unknown', '--config f/cfg_unknown.json', 'err'),
    ('cfg_wrongtype', '--config f/cfg_wrongtype.json', 'err'),
    ('cfg_nan', '--config f/cfg_nan.json', 'err'),
    ('cfg_neg', '--config f/cfg_neg.json', 'err'),
    ('cfg_othertask', '--config f/cfg_othertask.json', 'err'),
    ('cfg_bool', '--config f/cfg_bool.json', 'err'),
    ('cfg_float_int', '--config f/cfg_float_int.json', 'err'),
    ('cfg_missing', '--config nonexist.json', 'err'),
    ('cfg_dir', '--config f/adir', 'err'),
    ('cfg_empty', '--config f/empty.json', 'err'),
    ('cfg_bin', '--config f/bin.json', 'err'),
    ('cfg_runconfig', '--config runs/charlm/config.json', 'ok'),
]:
    train(n, 'charlm', x, e)

group("resume")
resume('res_ok_charlm', 'charlm', 'charlm', None, '--max-steps 6', 'ok', "grep -q '\"step\": 6' RUN/metrics.jsonl")
resume('res_ok_tagger', 'tagger', 'tagger', None, '--max-steps 6', 'ok')
resume('res_ok_classify', 'classify', 'classify', None, '--max-steps 6', 'ok')
resume('res_ok_ctc', 'ctc', 'ctc', None, '--max-steps 6', 'ok')
resume('res_ok_forecast', 'forecast', 'fcsv', None, '--max-steps 6', 'ok')
resume('res_finished', 'charlm', 'charlm', None, '', 'any')
resume('res_othertask', 'tagger', 'charlm', None, '--max-steps 6', 'err')
resume('res_othertask2', 'forecast', 'ctc', None, '--max-steps 6', 'err')
resume('res_cfg_hidden', 'charlm', 'charlm', "sed -i 's/\"hidden\": 8/\"hidden\": 16/' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_garbled', 'charlm', 'charlm', "truncate -s 100 RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_task', 'charlm', 'charlm', "sed -i 's/\"task\": \"charlm\"/\"task\": \"tagger\"/' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_missing', 'charlm', 'charlm', "rm RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_nan', 'charlm', 'charlm', "sed -i 's/\"lr\": 0.003/\"lr\": NaN/' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_neg', 'charlm', 'charlm', "sed -i 's/\"batch_size\": 4/\"batch_size\": -4/' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_unknownkey', 'charlm', 'charlm', "sed -i 's/\"task\": \"charlm\",/\"task\": \"charlm\", \"bogus\": 1,/' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_text_missing', 'charlm', 'charlm', "sed -i 's#{W}/shk.txt#{W}/nonexist.txt#' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_text_other', 'charlm', 'charlm', "sed -i 's#{W}/shk.txt#{W}/f/latin1_utf8.txt#' RUN/config.json", '--max-steps 6', 'err')
resume('res_cfg_list', 'charlm', 'charlm', "echo '[]' > RUN/config.json", '--max-steps 6', 'err')
# README: "a run that died before its first checkpoint ... is started afresh by --resume": no checkpoint left
resume('res_ckpt_missing', 'charlm', 'charlm', "rm -f RUN/checkpoints/*", '--max-steps 6', 'ok')
resume('res_ckpt_corrupt', 'charlm', 'charlm', "for f in RUN/checkpoints/last-*.safetensors; do truncate -s 200 $f; done", '--max-steps 6', 'err')
resume('res_ckpt_json_garbled', 'charlm', 'charlm', "echo '{' > RUN/checkpoints/last.json", '--max-steps 6', 'err')
resume('res_change_hidden_flag', 'charlm', 'charlm', None, '--max-steps 6 --hidden 16', 'err')
resume('res_change_lr_flag', 'charlm', 'charlm', None, '--max-steps 6 --lr 0.01', 'any')
resume('res_with_out', 'charlm', 'charlm', None, '--max-steps 6 --out runs_t/res_with_out', 'err')
resume('res_with_config', 'charlm', 'charlm', None, '--max-steps 6 --config runs/charlm/config.json', 'any')
# .lock is an flock (README: "a killed process frees it"): a pid written into the file by hand holds nothing, so
# the resume goes on; fault_concurrent_resume tests a lock that is really held
resume('res_lock_live', 'charlm', 'charlm', "echo 1 > RUN/.lock", '--max-steps 6', 'ok')
resume('res_bad_maxsteps', 'charlm', 'charlm', None, '--max-steps -3', 'err')
c('res_missing', "$L train charlm --resume runs_r/nonexist --max-steps 6", 'err')
c('res_emptydir', "$L train charlm --resume f/adir --max-steps 6", 'err')
c('res_file', "$L train charlm --resume shk.txt --max-steps 6", 'err')
c('res_filesdir', "$L train charlm --resume f --max-steps 6", 'err')

group("out")
c('out_existing_run', f"{CH} --hidden 12 --out runs_r/oer", 'err',
  setup="rm -rf runs_r/oer && cp -r runs/charlm runs_r/oer && md5sum runs_r/oer/config.json runs_r/oer/checkpoints/* > o/oer.md5",
  check="md5sum -c --quiet o/oer.md5")
c('out_existing_file', f"{CH} --out o/oef.txt", 'err', setup="cp shk.txt o/oef.txt", check="cmp shk.txt o/oef.txt")
c('out_missing_parent', f"{CH} --out runs_t/deep/a/b", 'any')
c('out_devnull', f"{CH} --out devnull", 'err', check="test -c devnull")
c('out_symlink_dir', f"{CH} --out o/sdirlink", 'any', setup="rm -rf o/sdir o/sdirlink && mkdir o/sdir && ln -s sdir o/sdirlink",
  check="test -L o/sdirlink && test -f o/sdir/config.json")
c('out_dangling_symlink', f"{CH} --out o/dangle", 'any', setup="rm -f o/dangle && ln -s nowhere/x o/dangle")
c('out_empty_dir', f"{CH} --out o/edir", 'ok', setup="rm -rf o/edir && mkdir o/edir")
c('out_fail_leaves_nothing', f"{CH} --text f/bin.txt --out runs_t/ofln/x", 'err', nodir='runs_t/ofln')

# =========================================================================================================
# round 3 (cases3): sample, tag, ctc-lines, forecast
group("sample")
S = "$L sample runs/charlm --length 20 --seed 1"
c('sm_ok', S, 'ok')
c('sm_nonrun', "$L sample f/adir --length 5")
c('sm_missing', "$L sample runs/nonexist --length 5")
c('sm_file', "$L sample shk.txt --length 5")
c('sm_tagger', "$L sample runs/tagger --length 5")
c('sm_ctc', "$L sample runs/ctc --length 5")
c('sm_forecast', "$L sample runs/forecast --length 5")
c('sm_len_0', "$L sample runs/charlm --length 0", 'any')
c('sm_len_neg', "$L sample runs/charlm --length -1")
c('sm_len_nan', "$L sample runs/charlm --length nan")
c('sm_len_float', "$L sample runs/charlm --length 1e9")
c('sm_temp_neg', f"{S} --temperature -1")
c('sm_temp_nan', f"{S} --temperature nan")
c('sm_temp_inf', f"{S} --temperature inf")
c('sm_temp_0', f"{S} --temperature 0", 'ok')
c('sm_temp_huge', f"{S} --temperature 1e308", 'any')
c('sm_temp_tiny', f"{S} --temperature 1e-300", 'any')
c('sm_topk_neg', f"{S} --top-k -1")
c('sm_topk_huge', f"{S} --top-k 100000", 'any')
c('sm_topk_nan', f"{S} --top-k nan")
c('sm_seed_neg', "$L sample runs/charlm --length 5 --seed -1", 'any')
c('sm_seed_huge', "$L sample runs/charlm --length 5 --seed 99999999999999999999999")
c('sm_prime_empty', f"{S} --prime ''", 'any')
c('sm_prime_unknown', f"{S} --prime 'Zü'")
c('sm_prime_unknown_replace', f"{S} --prime 'Zü' --unknown replace", 'ok')
c('sm_prime_unknown_skip', f"{S} --prime 'Zü' --unknown skip", 'any')
c('sm_prime_allunknown_skip', f"{S} --prime 'üü' --unknown skip", 'any')
c('sm_ckpt_best_nobest', "$L sample runs_r/sm_nb --length 5 --checkpoint best", setup=NOBEST.format(n='sm_nb', src='charlm'))
c('sm_ckpt_auto_nobest', "$L sample runs_r/sm_nb2 --length 5", 'ok', setup=NOBEST.format(n='sm_nb2', src='charlm'))
c('sm_cfg_edited', "$L sample runs_r/sm_ce --length 5",
  setup="rm -rf runs_r/sm_ce && cp -r runs/charlm runs_r/sm_ce && sed -i 's/\"hidden\": 8/\"hidden\": 16/' runs_r/sm_ce/config.json")
c('sm_cfg_garbled', "$L sample runs_r/sm_cg --length 5",
  setup="rm -rf runs_r/sm_cg && cp -r runs/charlm runs_r/sm_cg && truncate -s 50 runs_r/sm_cg/config.json")
c('sm_ckpt_corrupt', "$L sample runs_r/sm_cc --length 5",
  setup="rm -rf runs_r/sm_cc && cp -r runs/charlm runs_r/sm_cc && for f in runs_r/sm_cc/checkpoints/*.safetensors; do truncate -s 100 $f; done")
c('sm_ckpt_json_wrongfile', "$L sample runs_r/sm_cj --length 5",
  setup="rm -rf runs_r/sm_cj && cp -r runs/charlm runs_r/sm_cj && rm runs_r/sm_cj/checkpoints/*.safetensors")
c('sm_stdout_closed', f"{S} >&-", 'any')

group("tag")
c('tg_ok', "$L tag runs/tagger", 'ok', stdin='f/sent.txt')
c('tg_conllu_ok', "$L tag runs/tagger --conllu", 'ok', stdin='f/sent.txt')
c('tg_empty', "$L tag runs/tagger", 'any', stdin='f/empty.txt')
c('tg_bin', "$L tag runs/tagger", 'err', stdin='f/bin.txt')
c('tg_latin1', "$L tag runs/tagger", 'err', stdin='f/latin1.txt')
c('tg_charlm', "$L tag runs/charlm", 'err', stdin='f/sent.txt')
c('tg_mixed', "$L tag runs/tagger runs/charlm", 'err', stdin='f/sent.txt')
c('tg_ens_cols', "$L tag runs/tagger runs/tagger_xpos", 'err', stdin='f/sent.txt')
c('tg_ens_ok', "$L tag runs/tagger runs/tagger2", 'ok', stdin='f/sent.txt')
c('tg_nonrun', "$L tag f/adir", 'err', stdin='f/sent.txt')
c('tg_missing', "$L tag runs/nonexist", 'err', stdin='f/sent.txt')
c('tg_norun', "$L tag", 'err', stdin='f/sent.txt')
c('tg_nobest', "$L tag runs_r/tg_nb --checkpoint best", setup=NOBEST.format(n='tg_nb', src='tagger'), stdin='f/sent.txt')
c('tg_tabword_conllu', "$L tag runs/tagger --conllu", 'any', stdin='f/tabsent.txt')
c('tg_longline', "$L tag runs/tagger", 'ok', stdin='f/longsent.txt')
c('tg_conllu_input', "$L tag runs/tagger", 'any', stdin='ewt_dev.conllu')

group("ctc_lines")
CLN = "$L ctc-lines --lines 3"
c('cl_ok', f"{CLN} --out o/cl_ok.npz", 'ok', check=NPZ3.format(p='o/cl_ok.npz'))
c('cl_lines_0', "$L ctc-lines --lines 0 --out o/cl0.npz", nodir='o/cl0.npz')
c('cl_lines_neg', "$L ctc-lines --lines -1 --out o/cl1.npz", nodir='o/cl1.npz')
c('cl_lines_nan', "$L ctc-lines --lines nan --out o/cl2.npz")
c('cl_lines_huge', "$L ctc-lines --lines 100000000000 --out o/cl3.npz", 'any', timeout=30)
c('cl_seed_neg', f"{CLN} --seed -1 --out o/cl4.npz", 'any')
c('cl_dig_swap', f"{CLN} --min-digits 5 --max-digits 3 --out o/cl5.npz")
c('cl_dig_0', f"{CLN} --min-digits 0 --out o/cl6.npz", 'any')
c('cl_dig_neg', f"{CLN} --min-digits -2 --max-digits -1 --out o/cl7.npz")
c('cl_gap_swap', f"{CLN} --min-gap 4 --max-gap 1 --out o/cl8.npz")
c('cl_gap_neg', f"{CLN} --min-gap -1 --out o/cl9.npz")
c('cl_noise_neg', f"{CLN} --noise -1 --out o/cl10.npz")
c('cl_noise_nan', f"{CLN} --noise nan --out o/cl11.npz")
c('cl_noise_inf', f"{CLN} --noise inf --out o/cl12.npz")
c('cl_split_bogus', f"{CLN} --split bogus --out o/cl13.npz")
c('cl_out_missingdir', f"{CLN} --out o/nodir/x.npz", 'any', check="test ! -e o/nodir || test -f o/nodir/x.npz")
c('cl_out_dir', f"{CLN} --out f/adir")
c('cl_out_devnull', f"{CLN} --out devnull", 'any', check="test -c devnull")
c('cl_out_symlink', f"{CLN} --out o/cl_link.npz", 'ok',
  setup="rm -f o/cl_link.npz o/cl_target.npz; cp ctc_test.npz o/cl_target.npz; ln -s cl_target.npz o/cl_link.npz",
  check="test -L o/cl_link.npz && " + NPZ3.format(p='o/cl_target.npz'))
c('cl_out_noext', f"{CLN} --out o/cl_noext", 'any', setup="rm -f o/cl_noext o/cl_noext.npz",
  check="test -f o/cl_noext && test ! -e o/cl_noext.npz")
c('cl_out_txt', f"{CLN} --out o/cl_x.txt", 'any', setup="rm -f o/cl_x.txt o/cl_x.txt.npz", check="test ! -e o/cl_x.txt.npz")
c('cl_fail_keeps', "$L ctc-lines --lines -1 --out o/cl_keep.npz", setup="cp ctc_test.npz o/cl_keep.npz",
  check="cmp ctc_test.npz o/cl_keep.npz")
c('cl_noout', "$L ctc-lines --lines 3")

group("forecast")
F = "$L forecast runs/fcsv --csv series_new.csv"
c('fo_ok', F, 'ok')
c('fo_out_ok', f"{F} --out o/fo.csv", 'ok', check="test $(wc -l < o/fo.csv) -ge 4")
c('fo_out_symlink', f"{F} --out o/fo_link.csv", 'ok',
  setup="rm -f o/fo_link.csv o/fo_t.csv; echo old > o/fo_t.csv; ln -s fo_t.csv o/fo_link.csv",
  check="test -L o/fo_link.csv && test $(wc -l < o/fo_t.csv) -ge 4")
c('fo_out_devnull', f"{F} --out devnull", 'any', check="test -c devnull")
c('fo_out_missingdir', f"{F} --out o/nodir2/x.csv", 'any')
c('fo_out_dir', f"{F} --out f/adir")
c('fo_plot_ok', f"{F} --plot o/fo.png", 'ok', check="head -c 8 o/fo.png | grep -q PNG")
c('fo_plot_devnull', f"{F} --plot devnull", 'any', check="test -c devnull")
c('fo_plot_missingdir', f"{F} --plot o/nodir3/x.png", 'any')
c('fo_plot_txt', f"{F} --plot o/fo_plot.txt", 'any', setup="rm -f o/fo_plot.txt*", check="ls o/fo_plot.txt*")
c('fo_plot_symlink', f"{F} --plot o/fo_plink.png", 'ok',
  setup="rm -f o/fo_plink.png o/fo_pt.png; echo old > o/fo_pt.png; ln -s fo_pt.png o/fo_plink.png",
  check="test -L o/fo_plink.png && head -c 8 o/fo_pt.png | grep -q PNG")
c('fo_out_same_as_csv', "$L forecast runs/fcsv --csv o/fo_same.csv --out o/fo_same.csv", 'err',
  setup="cp series_new.csv o/fo_same.csv", check="cmp series_new.csv o/fo_same.csv")
c('fo_target_bogus', f"{F} --target bogus")
c('fo_target_other', f"{F} --target price", 'any')
c('fo_csv_missing', "$L forecast runs/fcsv --csv nonexist.csv")
c('fo_csv_dir', "$L forecast runs/fcsv --csv f/adir")
c('fo_csv_empty', "$L forecast runs/fcsv --csv f/empty.csv")
c('fo_csv_bin', "$L forecast runs/fcsv --csv f/bin.csv")
c('fo_csv_latin1', "$L forecast runs/fcsv --csv f/latin1.csv")
c('fo_csv_short', "$L forecast runs/fcsv --csv f/fc_short.csv")
c('fo_csv_missingval', "$L forecast runs/fcsv --csv f/fc_missing.csv")
c('fo_csv_missingval_drop', "$L forecast runs/fcsv --csv f/fc_missing.csv --missing drop", 'ok')
c('fo_csv_nonnum', "$L forecast runs/fcsv --csv f/fc_nonnum.csv")
c('fo_csv_nancell', "$L forecast runs/fcsv --csv f/fc_nancell.csv")
c('fo_csv_inf', "$L forecast runs/fcsv --csv f/fc_inf.csv")
c('fo_csv_ragged', "$L forecast runs/fcsv --csv f/fc_ragged.csv")
c('fo_csv_nocol', "$L forecast runs/fcsv --csv f/fc_nocol.csv")
c('fo_csv_dupcol', "$L forecast runs/fcsv --csv f/fc_dupcol.csv")
c('fo_charlm', "$L forecast runs/charlm --csv series_new.csv")
c('fo_ctc', "$L forecast runs/ctc --csv series_new.csv")
c('fo_nonrun', "$L forecast f/adir --csv series_new.csv")
c('fo_builtin_run_csv', "$L forecast runs/forecast --csv series_new.csv", 'any')
c('fo_builtin_run_csv_target', "$L forecast runs/forecast --csv series_new.csv --target sales", 'any')
c('fo_cov_run_nocov', "$L forecast runs/fcov --csv f/nocov.csv")
c('fo_fail_keeps', "$L forecast runs/fcsv --csv f/empty.csv --out o/fo_keep.csv", setup="echo keep > o/fo_keep.csv",
  check="grep -qx keep o/fo_keep.csv")
c('fo_stdin', "$L forecast runs/fcsv --csv -", 'any', stdin='series_new.csv')
c('fo_stdin_bin', "$L forecast runs/fcsv --csv -", 'any', stdin='f/bin.csv')

# =========================================================================================================
# round 4 (cases4): eval, inspect, demo, longlag, bench, misc
group("eval")
E = "$L eval"
c('ev_ch_ok', f"{E} runs/charlm --data shk.txt --out o/ev1", 'ok')
c('ev_ch_json', f"{E} runs/charlm --data shk.txt --json --out o/ev2", 'ok')
c('ev_ch_empty', f"{E} runs/charlm --data f/empty.txt --out o/ev3")
c('ev_ch_bin', f"{E} runs/charlm --data f/bin.txt --out o/ev4")
c('ev_ch_latin1', f"{E} runs/charlm --data f/latin1.txt --out o/ev5")
c('ev_ch_unknownchars', f"{E} runs/charlm --data f/latin1_utf8.txt --out o/ev6", 'any')
c('ev_ch_tiny', f"{E} runs/charlm --data f/tiny.txt --out o/ev7", 'any')
c('ev_ch_onechar_text', f"{E} runs/charlm --data f/one.txt --out o/ev7b", 'any')
c('ev_missing', f"{E} runs/charlm --data nonexist.txt --out o/ev8")
c('ev_dir', f"{E} runs/charlm --data f/adir --out o/ev9")
c('ev_nonrun', f"{E} f/adir --data shk.txt")
c('ev_runmissing', f"{E} runs/nonexist --data shk.txt")
c('ev_tg_ok', f"{E} runs/tagger --data ewt_dev.conllu --out o/ev10", 'ok')
c('ev_tg_trunc', f"{E} runs/tagger --data f/trunc.conllu --out o/ev11", 'any')
c('ev_tg_garbled', f"{E} runs/tagger --data f/garbled.conllu --out o/ev12")
c('ev_tg_empty', f"{E} runs/tagger --data f/empty.conllu --out o/ev13")
c('ev_tg_bin', f"{E} runs/tagger --data f/bin.conllu --out o/ev14")
c('ev_tg_comments', f"{E} runs/tagger --data f/comments.conllu --out o/ev15")
c('ev_tg_csv', f"{E} runs/tagger --data sst.csv --out o/ev16")
c('ev_tg_txt', f"{E} runs/tagger --data shk.txt --out o/ev17")
c('ev_tg_ens_ok', f"{E} runs/tagger runs/tagger2 --data ewt_dev.conllu --out o/ev18", 'ok')
c('ev_tg_ens_cols', f"{E} runs/tagger runs/tagger_xpos --data ewt_dev.conllu --out o/ev19")
c('ev_tg_ens_dup', f"{E} runs/tagger runs/tagger --data ewt_dev.conllu --out o/ev20", 'any')
c('ev_ens_charlm', f"{E} runs/charlm runs/charlm --data shk.txt --out o/ev21")
c('ev_ens_mixed', f"{E} runs/tagger runs/charlm --data ewt_dev.conllu --out o/ev22")
c('ev_tg_beam', f"{E} runs/tagger --data ewt_dev.conllu --beam 4 --out o/ev23")
c('ev_ch_beam', f"{E} runs/charlm --data shk.txt --beam 4 --out o/ev23b")
c('ev_tg_nobest', f"{E} runs_r/ev_nb --data ewt_dev.conllu --checkpoint best", setup=NOBEST.format(n='ev_nb', src='tagger'))
c('ev_cl_waves_npy', f"{E} runs/classify --data f/seqs.npy --out o/ev24")
c('ev_cl_waves_npy_labels', f"{E} runs/classify --data f/seqs.npy --out o/ev25", 'any')
c('ev_clt_ok', f"{E} runs/clstext --data sst.csv --out o/ev26", 'ok')
c('ev_clt_jsonl', f"{E} runs/clstext --data sst.jsonl --out o/ev27", 'ok')
c('ev_clt_nolabel', f"{E} runs/clstext --data f/nolabel.csv --out o/ev28", 'any')
c('ev_clt_header_only', f"{E} runs/clstext --data f/header_only.csv --out o/ev29")
c('ev_clt_unseen_label', f"{E} runs/clstext --data f/latin1_utf8.csv --out o/ev30", 'any')
c('ev_clt_bin', f"{E} runs/clstext --data f/bin.csv --out o/ev31")
c('ev_clt_trunc', f"{E} runs/clstext --data f/trunc.csv --out o/ev32")
c('ev_clt_trunc_jsonl', f"{E} runs/clstext --data f/trunc.jsonl --out o/ev33")
c('ev_clt_txt', f"{E} runs/clstext --data shk.txt --out o/ev34")
c('ev_ctc_ok', f"{E} runs/ctc --data ctc_test.npz --out o/ev35", 'ok')
for nm in ['trunc', 'wrongkeys', 'wrongfeat', 'nan', 'badtargets', 'neglen', 'zerolines', 'empty', 'bin']:
    c(f'ev_ctc_{nm}', f"{E} runs/ctc --data f/{nm}.npz --out o/ev_ctc_{nm}")
c('ev_ctc_beam0', f"{E} runs/ctc --data ctc_test.npz --beam 0 --out o/ev36")
c('ev_ctc_beamneg', f"{E} runs/ctc --data ctc_test.npz --beam -1 --out o/ev37")
c('ev_ctc_beamnan', f"{E} runs/ctc --data ctc_test.npz --beam nan --out o/ev38")
c('ev_ctc_csv', f"{E} runs/ctc --data sst.csv --out o/ev39")
c('ev_fc_ok', f"{E} runs/fcsv --data series_new.csv --out o/ev40", 'ok')
c('ev_fc_short', f"{E} runs/fcsv --data f/fc_short.csv --out o/ev41")
c('ev_fc_missing', f"{E} runs/fcsv --data f/fc_missing.csv --out o/ev42")
c('ev_fc_nonnum', f"{E} runs/fcsv --data f/fc_nonnum.csv --out o/ev43")
c('ev_fc_nancell', f"{E} runs/fcsv --data f/fc_nancell.csv --out o/ev44")
c('ev_fc_inf', f"{E} runs/fcsv --data f/fc_inf.csv --out o/ev44b")
c('ev_fc_nocol', f"{E} runs/fcsv --data f/fc_nocol.csv --out o/ev45")
c('ev_fc_builtin_csv', f"{E} runs/forecast --data series_new.csv --out o/ev46")
c('ev_fc_conllu', f"{E} runs/fcsv --data ewt_dev.conllu --out o/ev47")
c('ev_out_file', f"{E} runs/fcsv --data series_new.csv --out o/ev_file", setup="echo keep > o/ev_file",
  check="grep -qx keep o/ev_file")
c('ev_out_devnull', f"{E} runs/fcsv --data series_new.csv --out devnull", 'any', check="test -c devnull")
c('ev_out_missingparent', f"{E} runs/fcsv --data series_new.csv --out o/nodir4/a/b", 'any')
c('ev_stdin', f"{E} runs/charlm --data - --out o/ev48", 'any', stdin='shk.txt')

group("inspect")
I = "$L inspect runs/charlm"
c('in_ok', f"{I} --text 'hello there' --out o/in1.html", 'ok', check="test -s o/in1.html && ls o/*.png >/dev/null")
c('in_both', f"{I} --text hi --text-file shk.txt --out o/in2.html")
c('in_neither', f"{I} --out o/in3.html", 'any')
c('in_text_empty', f"{I} --text '' --out o/in4.html")
c('in_tf_missing', f"{I} --text-file nonexist.txt --out o/in5.html")
c('in_tf_dir', f"{I} --text-file f/adir --out o/in6.html")
c('in_tf_empty', f"{I} --text-file f/empty.txt --out o/in7.html")
c('in_tf_bin', f"{I} --text-file f/bin.txt --out o/in8.html")
c('in_tf_latin1', f"{I} --text-file f/latin1.txt --out o/in9.html")
c('in_unknown_chars', f"{I} --text 'héllo ü' --out o/in10.html", 'any')
c('in_out_symlink', f"{I} --text hello --out o/in_link.html --no-png", 'ok',
  setup="rm -f o/in_link.html o/in_t.html; echo old > o/in_t.html; ln -s in_t.html o/in_link.html",
  check="test -L o/in_link.html && grep -qi html o/in_t.html")
c('in_out_devnull', f"{I} --text hello --out devnull --no-png", 'any', check="test -c devnull")
c('in_out_devnull_png', f"{I} --text hello --out devnull", 'any', check="test -c devnull")
c('in_out_missingdir', f"{I} --text hello --out o/nodir5/x.html", 'any')
c('in_out_dir', f"{I} --text hello --out f/adir")
c('in_pngdir_nopng', f"{I} --text hello --out o/in11.html --png-dir o/pngs --no-png", nodir='o/pngs')
c('in_pngdir_file', f"{I} --text hello --out o/in12.html --png-dir o/in_pngfile.txt", setup="cp shk.txt o/in_pngfile.txt",
  check=UNCHANGED.format(p='o/in_pngfile.txt'))
c('in_q_bogus', f"{I} --text hello --out o/in13.html --quantities bogus")
c('in_q_empty', f"{I} --text hello --out o/in14.html --quantities ''")
c('in_q_dup', f"{I} --text hello --out o/in15.html --quantities c,c", 'any')
c('in_q_gru_on_lstm', f"{I} --text hello --out o/in16.html --quantities r")
c('in_top_0', f"{I} --text hello --out o/in17.html --top 0")
c('in_top_neg', f"{I} --text hello --out o/in18.html --top -1")
c('in_top_nan', f"{I} --text hello --out o/in19.html --top nan")
c('in_top_huge', f"{I} --text hello --out o/in20.html --top 100000", 'any')
c('in_escapes_trailing', f"{I} --text 'abc\\\\' --escapes --out o/in21.html", 'any')
c('in_escapes_no_text', f"{I} --text-file shk.txt --escapes --out o/in22.html", 'any')
c('in_tagger', "$L inspect runs/tagger --text 'I saw her duck' --out o/in23.html", 'ok')
c('in_ctc', "$L inspect runs/ctc --text 'hello' --out o/in24.html", 'any')
c('in_forecast', "$L inspect runs/fcsv --text 'hello' --out o/in25.html", 'any')
c('in_classify', "$L inspect runs/classify --text 'hello' --out o/in26.html", 'any')
c('in_clstext', "$L inspect runs/clstext --text 'a fine film' --out o/in27.html", 'any')
c('in_nonrun', "$L inspect f/adir --text hi --out o/in28.html")
c('in_nobest', "$L inspect runs_r/in_nb --checkpoint best --text hi --out o/in29.html", setup=NOBEST.format(n='in_nb', src='charlm'))
c('in_fail_keeps', f"{I} --text-file f/bin.txt --out o/in_keep.html", setup="echo keep > o/in_keep.html",
  check="grep -qx keep o/in_keep.html")
c('in_out_over_runconfig', f"{I} --text hi --out runs_r/in_cfg/config.json --no-png", 'any',
  setup="rm -rf runs_r/in_cfg && cp -r runs/charlm runs_r/in_cfg", check=JSONOK.format(p='runs_r/in_cfg/config.json'))
c('in_stdin', f"{I} --text-file - --out o/in30.html", 'any', stdin='shk.txt')

group("demo")
D = "$L demo --steps 5 --gap-min 1 --gap-max 6 --compare ''"
c('dm_ok', D, 'ok')
c('dm_steps_0', "$L demo --steps 0")
c('dm_steps_neg', "$L demo --steps -1")
c('dm_steps_nan', "$L demo --steps nan")
c('dm_gap_swap', "$L demo --steps 5 --gap-min 6 --gap-max 2")
c('dm_gap_neg', "$L demo --steps 5 --gap-min -1 --gap-max 3")
c('dm_gap_0', "$L demo --steps 5 --gap-min 0 --gap-max 3 --compare ''", 'any')
c('dm_compare_bogus', "$L demo --steps 5 --compare bogus")
c('dm_compare_same', "$L demo --steps 5 --gap-min 1 --gap-max 6 --compare lstm", 'any')
c('dm_seed_neg', f"{D} --seed -1", 'any')
c('dm_cell_bogus', "$L demo --cell bogus")
c('dm_gap_huge', "$L demo --steps 2 --gap-min 1 --gap-max 100000000 --compare ''", 'any', timeout=60)

group("longlag")
LL = "--max-sequences 64 --max-seconds 3 --hidden 4 --seeds 1 --threads 1"
c('ll_adding_ok', f"$L longlag adding --T 20 {LL} --json o/ll1.json", 'ok', check=JSONOK.format(p='o/ll1.json'))
for nm, x in [('T_0', '--T 0'), ('T_neg', '--T -1'), ('T_nan', '--T nan'), ('hidden_0', '--hidden 0'), ('layers_0', '--layers 0'),
              ('batch_0', '--batch 0'), ('lr_nan', '--lr nan'), ('lr_neg', '--lr -1'), ('lr_0', '--lr 0'), ('clip_neg', '--clip -1'),
              ('clip_nan', '--clip nan'), ('maxseq_0', '--max-sequences 0'), ('maxseq_neg', '--max-sequences -1'),
              ('maxsec_0', '--max-seconds 0'), ('maxsec_neg', '--max-seconds -1'), ('maxsec_nan', '--max-seconds nan'),
              ('seeds_0', '--seeds 0'), ('seeds_neg', '--seeds -1'), ('log_0', '--log-every 0'), ('log_neg', '--log-every -1'),
              ('log_nan', '--log-every nan'), ('threads_0', '--threads 0'), ('threads_neg', '--threads -1'), ('fb_nan', '--forget-bias nan'),
              ('fb_inf', '--forget-bias inf'), ('backend_bogus', '--backend bogus'), ('seed_huge', '--seed 99999999999999999999999')]:
    c(f'll_{nm}', f"$L longlag adding --T 20 {LL} {x}")
c('ll_maxsec_inf', "$L longlag adding --T 20 --max-sequences 64 --hidden 4 --seeds 1 --max-seconds inf", 'any')
c('ll_T_1', f"$L longlag adding --T 1 {LL}", 'any')
c('ll_T_huge', f"$L longlag adding --T 100000000 {LL}", 'any', timeout=60)
c('ll_gru_peephole', f"$L longlag adding --T 20 {LL} --cell gru --peephole")
c('ll_adding_N', f"$L longlag adding --T 20 {LL} --N 5")
c('ll_adding_p', f"$L longlag adding --T 20 {LL} --p 3")
c('ll_chrono_fb', f"$L longlag adding --T 20 {LL} --init chrono --forget-bias 2")
c('ll_rnn_fb', f"$L longlag adding --T 20 {LL} --cell rnn --forget-bias 2")
c('ll_json_missingdir', f"$L longlag adding --T 20 {LL} --json o/nodir6/x.json", 'any')
c('ll_json_dir', f"$L longlag adding --T 20 {LL} --json f/adir")
c('ll_json_devnull', f"$L longlag adding --T 20 {LL} --json devnull", 'any', check="test -c devnull")
c('ll_json_symlink', f"$L longlag adding --T 20 {LL} --json o/ll_link.json", 'ok',
  setup="rm -f o/ll_link.json o/ll_t.json; echo old > o/ll_t.json; ln -s ll_t.json o/ll_link.json",
  check="test -L o/ll_link.json && " + JSONOK.format(p='o/ll_t.json'))
c('ll_json_fail_keeps', f"$L longlag adding --T -1 {LL} --json o/ll_keep.json", setup="echo keep > o/ll_keep.json",
  check="grep -qx keep o/ll_keep.json")
for t, x in [('reber', ''), ('reber-continual', '--T 20'), ('2a', '--p 10'), ('2b', '--p 10'), ('2c', '--T 20 --p 10'),
             ('3a', '--T 20 --N 3'), ('multiplication', '--T 20'), ('6a', ''), ('6b', ''),
             ('adding-modern', '--T 20'), ('copy', '--T 10')]:
    c(f'll_{t}_ok', f"$L longlag {t} {x} {LL}", 'ok')
c('ll_2a_p0', f"$L longlag 2a --p 0 {LL}")
c('ll_2a_pneg', f"$L longlag 2a --p -1 {LL}")
c('ll_3a_N0', f"$L longlag 3a --T 20 --N 0 {LL}")
c('ll_3a_N_gt_T', f"$L longlag 3a --T 5 --N 50 {LL}")
c('ll_copy_T0', f"$L longlag copy --T 0 {LL}")
c('ll_reber_T', f"$L longlag reber --T 50 {LL}")
c('ll_2a_T', f"$L longlag 2a --T 50 {LL}")
c('ll_bogus_task', "$L longlag bogus")
c('ll_none', "$L longlag")
SU = "$L longlag suite --quick --tasks adding --cells lstm --seeds 1 --max-seconds 1"
c('su_tasks_bogus', "$L longlag suite --quick --tasks bogus --out o/su1")
c('su_cells_bogus', "$L longlag suite --quick --cells bogus --out o/su2")
c('su_jobs_0', "$L longlag suite --quick --jobs 0 --out o/su3")
c('su_seeds_0', "$L longlag suite --quick --seeds 0 --out o/su4")
c('su_maxsec_neg', "$L longlag suite --quick --max-seconds -1 --out o/su5")
c('su_maxsec_nan', "$L longlag suite --quick --max-seconds nan --out o/su5b")
c('su_params_bogus', "$L longlag suite --quick --params bogus --out o/su6")
c('su_out_file', f"{SU} --out o/su_file.txt", setup="cp shk.txt o/su_file.txt", check=UNCHANGED.format(p='o/su_file.txt'))
c('su_name_slash', f"{SU} --out o/su7 --name ../../evil", check="test ! -e evil.md && test ! -e evil.json && test ! -e ../evil.md")
c('su_tiny', f"{SU} --out o/su8", 'any', timeout=90)
c('su_tasks_empty', "$L longlag suite --quick --tasks '' --out o/su9")
G = "$L longlag gradflow --task adding --T 20 --cells lstm --train-seconds 1 --hidden 4 --batch 4"
c('gf_ok', f"{G} --out o/gf1", 'ok')
c('gf_T_0', "$L longlag gradflow --task adding --T 0 --out o/gf2")
c('gf_cells_bogus', "$L longlag gradflow --task adding --T 20 --cells bogus --out o/gf3")
c('gf_hidden_0', "$L longlag gradflow --task adding --T 20 --hidden 0 --out o/gf4")
c('gf_ts_neg', "$L longlag gradflow --task adding --T 20 --train-seconds -1 --out o/gf5")
c('gf_ts_nan', "$L longlag gradflow --task adding --T 20 --train-seconds nan --out o/gf6")
c('gf_tseq_neg', "$L longlag gradflow --task adding --T 20 --train-sequences -1 --out o/gf7")
c('gf_batch_0', "$L longlag gradflow --task adding --T 20 --batch 0 --out o/gf8")
c('gf_out_devnull', f"{G} --out devnull", 'err', check="test -c devnull")
c('gf_out_file', f"{G} --out o/gf_file", setup="echo keep > o/gf_file", check="grep -qx keep o/gf_file")
c('gf_cells_empty', "$L longlag gradflow --task adding --T 20 --cells '' --out o/gf9")

group("bench")
c('bn_repeats_0', "$L bench --quick --repeats 0 --out o/bn1.json")
c('bn_repeats_neg', "$L bench --quick --repeats -1 --out o/bn2.json")
c('bn_repeats_nan', "$L bench --quick --repeats nan --out o/bn3.json")
c('bn_cells_bogus', "$L bench --quick --cells bogus --out o/bn4.json")
c('bn_out_dir', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out f/adir")
c('bn_tiny', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out o/bn5.json", 'any',
  check=JSONOK.format(p='o/bn5.json'))

group("misc")
c('mi_noargs', "$L")
c('mi_unknown', "$L bogus")
c('mi_train_alone', "$L train")
c('mi_train_bogus', "$L train bogus")
c('mi_extra_pos', "$L train charlm extra --max-steps 3")
c('mi_eval_nodata', "$L eval runs/charlm")
c('mi_version', "$L --version", 'ok')

# =========================================================================================================
# round 5 (cases5): resume of unfinished runs, config values no flag overrides, Ctrl-C
group("followup")
RAISE = "sed -i 's/\"max_steps\": 4/\"max_steps\": 6/' RUN/config.json"
R2 = dict(maxtime=False)
resume('r2_ok_charlm', 'charlm', 'charlm', RAISE, '', 'ok', "grep -q '\"step\": 6' RUN/metrics.jsonl", **R2)
resume('r2_ok_tagger', 'tagger', 'tagger', RAISE, '', 'ok', **R2)
resume('r2_ok_classify', 'classify', 'classify', RAISE, '', 'ok', **R2)
resume('r2_ok_ctc', 'ctc', 'ctc', RAISE, '', 'ok', **R2)
resume('r2_ok_forecast', 'forecast', 'fcsv', RAISE, '', 'ok', **R2)
resume('r2_maxtime', 'charlm', 'charlm', RAISE, '--max-time 30s', 'any', **R2)
resume('r2_cfg_hidden', 'charlm', 'charlm', RAISE + " && sed -i 's/\"hidden\": 8/\"hidden\": 16/' RUN/config.json", '', 'err', **R2)
resume('r2_cfg_cell', 'charlm', 'charlm', RAISE + " && sed -i 's/\"cell\": \"lstm\"/\"cell\": \"gru\"/' RUN/config.json", '', 'err', **R2)
resume('r2_cfg_text_other', 'charlm', 'charlm', RAISE + " && sed -i 's#{W}/shk.txt#{W}/f/latin1_utf8.txt#' RUN/config.json", '', 'err', **R2)
resume('r2_text_changed', 'charlm', 'charlm_own', RAISE + " && cp f/latin1_utf8.txt own.txt", '', 'err', **R2)
resume('r2_ckpt_corrupt', 'charlm', 'charlm', RAISE + " && for f in RUN/checkpoints/last-*.safetensors; do truncate -s 200 $f; done", '', 'err', **R2)
resume('r2_ckpt_garbage', 'charlm', 'charlm', RAISE + " && for f in RUN/checkpoints/last-*.safetensors; do head -c 3000 /dev/urandom > $f; done", '', 'err', **R2)
resume('r2_ckpt_json_garbled', 'charlm', 'charlm', RAISE + " && echo '{' > RUN/checkpoints/last.json", '', 'err', **R2)
resume('r2_ckpt_json_points_missing', 'charlm', 'charlm', RAISE + " && rm RUN/checkpoints/last-*.safetensors", '', 'err', **R2)
resume('r2_ckpt_from_other_run', 'charlm', 'charlm', RAISE + " && for f in RUN/checkpoints/last-*.safetensors; do cp runs/tagger/checkpoints/last-*.safetensors $f; done", '', 'err', **R2)
resume('r2_lock_live', 'charlm', 'charlm', RAISE + " && echo 1 > RUN/.lock", '', 'ok', **R2)
resume('r2_lock_garbage', 'charlm', 'charlm', RAISE + " && echo xyz > RUN/.lock", '', 'any', **R2)
resume('r2_metrics_garbled', 'charlm', 'charlm', RAISE + " && echo 'garbage{' >> RUN/metrics.jsonl", '', 'any', **R2)
resume('r2_nockpt', 'charlm', 'charlm', RAISE + " && rm -f RUN/checkpoints/*", '', 'any', **R2)
resume('r2_nockpt_dir', 'charlm', 'charlm', RAISE + " && rm -rf RUN/checkpoints", '', 'any', **R2)
resume('r2_change_maxsteps_only', 'charlm', 'charlm', None, '--max-steps 8', 'any', **R2)

for nm in _fx.CFG2:
    c(f'cfg2_{nm}', f"$L train charlm --config f/cfg2_{nm}.json --out runs_t/cfg2_{nm}",
      'any' if nm in ('task_key_missing', 'maxtime_str', 'text_str') else 'err')

CHL = ("$L train charlm --text shk.txt --max-steps 100000 --hidden 8 --layers 1 --embed 8 --batch-size 4 --seq-len 16 "
       "--eval-every 20 --log-every 20 --max-time 60s --final-sample 20 --sample-chars 10")
INT = '--preserve-status -s INT'
c('sigint_train_early', f"{CHL} --out runs_t/sigint_early", 'int', signal=INT, timeout=2,
  check="test ! -e runs_t/sigint_early || ls runs_t/sigint_early/checkpoints/last.json")
c('sigint_sample', "$L sample runs/charlm --length 100000000", 'int', signal=INT, timeout=9)
c('sigint_tag', "$L tag runs/tagger < <(exec sleep 30 2>/dev/null)", 'int', signal=INT, timeout=9)
c('sigint_ctclines', "$L ctc-lines --lines 100000000 --out o/sig.npz", 'int', signal=INT, timeout=9, check="test ! -e o/sig.npz")
c('sigint_longlag', "$L longlag adding --T 20 --max-seconds 60 --hidden 4 --seeds 1 --json o/sig.json", 'int', signal=INT,
  timeout=9, check="test ! -e o/sig.json")
c('sigint_demo', "$L demo --steps 100000", 'int', signal=INT, timeout=9)
c('sigterm_train', f"{CHL} --out runs_t/sigterm_train", 'any', signal='--preserve-status -s TERM', timeout=9, rcs=(0, 2, 143))

# =========================================================================================================
# new: every subcommand's --help, and the flags no case above reaches
group("help")
HELPS = ["", "train", "train charlm", "train tagger", "train classify", "train ctc", "train forecast", "sample", "tag",
         "ctc-lines", "forecast", "eval", "inspect", "demo", "longlag", "longlag adding", "longlag reber", "longlag suite",
         "longlag gradflow", "bench"]
for h in HELPS:
    c("help_" + (h.replace(" ", "_") or "main"), f"$L {h} --help".replace("  ", " "), 'ok', keep_stdout=True,
      check=None, help_of=h)
c('help_short_h', "$L sample -h", 'ok')

group("coverage")
# train: settings shared by every job, on other jobs than charlm, and valid values of each choice
train('cv_schedule_step', 'charlm', '--schedule step --step-every 2 --gamma 0.5', 'ok')
train('cv_schedule_bogus', 'charlm', '--schedule bogus')
train('cv_decayby_bogus', 'charlm', '--decay-by bogus')
train('cv_decayby_time', 'charlm', '--decay-by time --decay-time 10', 'ok')
train('cv_tensorboard', 'charlm', '--tensorboard', 'any')
train('cv_no_tensorboard', 'charlm', '--no-tensorboard', 'ok')
train('cv_patience_1', 'charlm', '--patience 1 --max-steps 8', 'ok')
train('cv_ema_ok', 'charlm', '--ema 0.9', 'ok')
train('cv_ckpt_every_1', 'charlm', '--checkpoint-every 1', 'ok')
train('cv_device_cpu', 'charlm', '--device cpu', 'ok')
train('cv_seed_tagger', 'tagger', '--seed 7 --lr 0.01 --warmup-steps 1 --grad-clip 0', 'ok')
train('cv_maxtime_units', 'classify', '--max-time 1m', 'ok')
train('cv_maxtime_hours', 'ctc', '--max-time 1h', 'ok')
train('cv_lr_nan_tagger', 'tagger', '--lr nan')
train('cv_batch_0_fc', 'fcsv', '--batch-size 0')
# the settings every job shares, with valid values, on each job besides charlm (the sweep above is on charlm)
SHARED = ("--seed 1 --lr 0.002 --min-lr 0.2 --warmup-steps 1 --schedule step --step-every 2 --gamma 0.5 "
          "--weight-decay 0.01 --beta1 0.8 --beta2 0.95 --grad-clip 2 --ema 0.5 --checkpoint-every 1 --patience 3 "
          "--device cpu --no-tensorboard")
DECAY = "--schedule cosine --decay-by time --decay-time 5 --decay-steps 10"
for task, run, extra in [('tagger', 'tagger', '--lowercase'), ('classify', 'classify', '--bidirectional --no-class-weights'),
                         ('ctc', 'ctc', '--backend reference'), ('forecast', 'fcsv', '--backend reference')]:
    train(f'cv_shared_{task}', run, f"{SHARED} {extra}", 'ok')
    train(f'cv_decay_{task}', run, f"{DECAY} --config runs/{run}/config.json", 'ok')
    train(f'cv_tensorboard_{task}', run, "--tensorboard", 'any')
# charlm
train('cv_ch_errors_ignore', 'charlm', '--text f/latin1.txt --errors ignore', 'ok')
train('cv_ch_errors_bogus', 'charlm', '--errors bogus')
train('cv_ch_cell_bogus', 'charlm', '--cell bogus')
train('cv_ch_nonlin_bogus', 'charlm', '--cell rnn --nonlinearity bogus')
train('cv_ch_rnn_relu', 'charlm', '--cell rnn --nonlinearity relu', 'ok')
train('cv_ch_gru_reset', 'charlm', '--cell gru --reset-before --zoneout 0.1', 'ok')
train('cv_ch_lstm_all', 'charlm', '--layers 2 --peephole --layer-norm --cifg --forget-bias 1 --proj-size 4 --zoneout-h 0.1 '
      '--zoneout-c 0.1 --input-dropout 0.1 --recurrent-dropout 0.1 --dropout 0.1 --bptt 24', 'any')
train('cv_ch_no_flags', 'charlm', '--no-peephole --no-layer-norm --no-cifg --no-reset-before', 'ok')
train('cv_ch_backend_ref', 'charlm', '--backend reference', 'ok')
train('cv_ch_backend_bf16', 'charlm', '--backend cpu-bf16', 'any')
train('cv_ch_eval_opts', 'charlm', '--eval-chars 100 --val-fraction 0.2 --eval-batch-size 2 --temperature 1.2', 'ok')
train('cv_ch_link_text', 'charlm', '--text f/link_shk.txt', 'ok')
train('cv_ch_dangling_text', 'charlm', '--text f/dangling.txt')
train('cv_ch_loop_text', 'charlm', '--text f/loop.txt')
train('cv_ch_crlf_text', 'charlm', '--text f/crlf.txt', 'ok')
c('cv_ch_fifo_text', f"{CH} --text f/fifo --out runs_t/cv_ch_fifo_text", 'any', fifo_in=('f/fifo', 'shk.txt'), timeout=60)
# tagger
c('cv_tg_demo', "$L train tagger --max-steps 4 --hidden 8 --word-dim 8 --char-dim 4 --char-hidden 4 --out runs_t/cv_tg_demo", 'ok')
train('cv_tg_aux_ok', 'tagger', '--aux-columns xpos feats --aux-weight 0.5', 'ok')
train('cv_tg_no_lowercase', 'tagger', '--no-lowercase --min-count 1 --layers 2 --word-dropout 0 --label-smoothing 0.1', 'ok')
train('cv_tg_column_bogus', 'tagger', '--column bogus')
train('cv_tg_column_deprel', 'tagger', '--column deprel', 'ok')
train('cv_tg_layers_0', 'tagger', '--layers 0')
train('cv_tg_batch_0', 'tagger', '--batch-size 0')
train('cv_tg_devfrac', 'tagger', '--dev-fraction 0.2', 'any')
c('cv_tg_devfrac_nodev', f"{TG.replace('--dev ewt_dev.conllu', '')} --dev-fraction 0.2 --out runs_t/cv_tg_devfrac_nodev", 'ok')
train('cv_tg_mwt', 'tagger', '--train f/mwt.conllu', 'any')
train('cv_tg_crlf_dev', 'tagger', '--dev f/crlf.conllu', 'any')
train('cv_tg_backend_bogus', 'tagger', '--backend bogus')
# classify
train('cv_cl_pool_mean', 'clstext', '--pooling mean --no-bidirectional --cell gru', 'ok')
train('cv_cl_pool_max', 'clstext', '--pooling max --class-weights --layers 2 --dropout 0.1', 'ok')
train('cv_cl_pool_bogus', 'clstext', '--pooling bogus')
train('cv_cl_tokens_bogus', 'clstext', '--tokens bogus')
train('cv_cl_jsonl', 'classify', '--data sst.jsonl --tokens word --embed 8', 'ok')
train('cv_cl_numcsv', 'classify', '--data f/numseq.csv', 'ok')
train('cv_cl_missing_err', 'classify', '--data f/cls_missing.csv')
train('cv_cl_missing_drop', 'classify', '--data f/cls_missing.csv --missing drop', 'ok')
train('cv_cl_missing_bogus', 'classify', '--data sst.csv --missing bogus')
train('cv_cl_bom_csv', 'classify', '--data f/bom.csv', 'any')
train('cv_cl_dev_ok', 'classify', '--data sst.csv --dev sst.jsonl --tokens word --min-count 2 --max-len 50 --eval-batch-size 8', 'ok')
train('cv_cl_npy_dev_ok', 'classify', '--data f/seqs.npy --labels f/labels.npy --dev f/seqs.npy --dev-labels f/labels.npy', 'ok')
train('cv_cl_batch_0', 'classify', '--batch-size 0')
train('cv_cl_backend_ref', 'classify', '--backend reference', 'ok')
# ctc
train('cv_ctc_gru', 'ctc', '--cell gru --beam 1 --min-digits 1 --max-digits 2 --min-gap 1 --max-gap 2 --noise 0', 'ok')
train('cv_ctc_batch_0', 'ctc', '--batch-size 0')
train('cv_ctc_dropout_nan', 'ctc', '--dropout nan')
train('cv_ctc_hidden_0', 'ctc', '--hidden 0')
# forecast
train('cv_fc_interpolate', 'fcsv', '--csv f/fc_missing.csv --missing interpolate', 'ok')
train('cv_fc_drop', 'fcsv', '--csv f/fc_missing.csv --missing drop', 'ok')
train('cv_fc_missing_bogus', 'fcsv', '--missing bogus')
train('cv_fc_nonnum_bogus', 'fcsv', '--non-numeric bogus')
train('cv_fc_opts', 'fcsv', '--time month --covariates price --season 12 --layers 2 --dropout 0.1 --decoder autoregressive '
      '--quantiles 0.25 0.5 0.75 --val-fraction 0.2 --test-fraction 0.2', 'ok')
train('cv_fc_baselines', 'fcsv', '--baselines', 'ok')
train('cv_fc_decoder_bogus', 'fcsv', '--decoder bogus')
train('cv_fc_dataset_bogus', 'forecast', '--dataset bogus')
train('cv_fc_sunspots', 'forecast', '--dataset sunspots --relative', 'ok')
train('cv_fc_hidden_neg', 'fcsv', '--hidden -1')
# sample
c('cv_sm_ckpt_last', f"{S} --checkpoint last --prime 'the ' --top-k 3 --temperature 0.5", 'ok')
c('cv_sm_ckpt_bogus', f"{S} --checkpoint bogus")
c('cv_sm_unknown_bogus', f"{S} --unknown bogus")
c('cv_sm_two_runs', "$L sample runs/charlm runs/charlm --length 5")
c('cv_sm_stdout_full', f"{S} > /dev/full")
c('cv_sm_stdout_pipe_closed', "set -o pipefail; $L sample runs/charlm --length 200000 --seed 1 | head -c 10", 'any',
  rcs=(0, 2, 141), shell=True)
# tag
c('cv_tg_ckpt_last', "$L tag runs/tagger --checkpoint last", 'ok', stdin='f/sent.txt')
c('cv_tg_stdout_full', "$L tag runs/tagger > /dev/full", stdin='f/sent.txt')
c('cv_tg_crlf_input', "$L tag runs/tagger", 'any', stdin='f/crlf.txt')
# ctc-lines
c('cv_cl_split_train', f"{CLN} --split train --seed 5 --min-digits 2 --max-digits 4 --min-gap 1 --max-gap 3 --noise 0 "
  "--out o/cv_cl_train.npz", 'ok', check=NPZ3.format(p='o/cv_cl_train.npz'))
c('cv_cl_split_val', f"{CLN} --split val --out o/cv_cl_val.npz", 'ok', check=NPZ3.format(p='o/cv_cl_val.npz'))
c('cv_cl_roundtrip_eval', f"{CLN} --out o/cv_cl_rt.npz && $L eval runs/ctc --data o/cv_cl_rt.npz --beam 2 --json --out o/cv_ev_rt",
  'ok', shell=True)
# forecast
c('cv_fo_interpolate', "$L forecast runs/fcsv --csv f/fc_missing.csv --missing interpolate", 'ok')
c('cv_fo_nonnum_missing', "$L forecast runs/fcsv --csv f/fc_nonnum.csv --non-numeric missing --missing ffill", 'ok')
c('cv_fo_missing_bogus', f"{F} --missing bogus")
c('cv_fo_nocsv', "$L forecast runs/fcsv")
c('cv_fo_stdout_full', f"{F} > /dev/full")
c('cv_fo_plot_dir', f"{F} --plot f/adir")
c('cv_fo_plot_same_as_csv', "$L forecast runs/fcsv --csv o/fo_psame.csv --plot o/fo_psame.csv",
  setup="cp series_new.csv o/fo_psame.csv", check="cmp series_new.csv o/fo_psame.csv")
# eval
c('cv_ev_ckpt_last', f"{E} runs/charlm --data shk.txt --checkpoint last --out o/cv_ev1", 'ok')
c('cv_ev_ckpt_bogus', f"{E} runs/charlm --data shk.txt --checkpoint bogus --out o/cv_ev2")
c('cv_ev_default_out', f"{E} runs_r/cv_ev3 --data ewt_dev.conllu", 'ok', setup="rm -rf runs_r/cv_ev3 && cp -r runs/tagger runs_r/cv_ev3")
c('cv_ev_fc_json', f"{E} runs/fcsv --data series_new.csv --json --out o/cv_ev4", 'ok')
c('cv_ev_cl_numcsv_mismatch', f"{E} runs/classify --data f/numseq.csv --out o/cv_ev5", 'any')
c('cv_ev_npy_ok', f"{E} runs_t/cv_ev_npy_run --data f/seqs.npy --out o/cv_ev6", 'any',
  setup=f"{CL} --data f/seqs.npy --labels f/labels.npy --out runs_t/cv_ev_npy_run >/dev/null 2>&1")
c('cv_ev_tg_mwt', f"{E} runs/tagger --data f/mwt.conllu --out o/cv_ev7", 'any')
c('cv_ev_link_data', f"{E} runs/charlm --data f/link_shk.txt --out o/cv_ev8", 'ok')
# inspect
c('cv_in_pngdir_ok', f"{I} --text 'hello there' --out o/cv_in1.html --png-dir o/cv_in1_png --quantities c,h,f --top 3",
  'ok', check="ls o/cv_in1_png/*.png >/dev/null")
c('cv_in_ckpt_last', f"{I} --text 'a\\nb' --escapes --checkpoint last --out o/cv_in2.html --no-png", 'ok')
c('cv_in_default_out', "$L inspect runs_r/cv_in3 --text hi --no-png", 'ok',
  setup="rm -rf runs_r/cv_in3 && cp -r runs/charlm runs_r/cv_in3", check="test -s runs_r/cv_in3/inspect/inspect.html")
c('cv_in_gru_quantities', "$L inspect runs_t/cv_in_gru_run --text hello --quantities h,r,z,n --out o/cv_in4.html --no-png",
  'any', setup=f"{CH} --cell gru --out runs_t/cv_in_gru_run >/dev/null 2>&1")
# demo
c('dm_cell_gru', "$L demo --cell gru --steps 5 --gap-min 1 --gap-max 4 --compare rnn --seed 3", 'ok')
c('dm_steps_float', "$L demo --steps 2.5")
# longlag
c('cv_ll_opts', f"$L longlag adding --T 20 {LL} --cell gru --layers 2 --batch 8 --lr 0.01 --clip 1 --seed 2 --log-every 1 "
  "--backend reference", 'ok')
c('cv_ll_peephole', f"$L longlag adding --T 20 {LL} --peephole --init default --forget-bias 1", 'ok')
c('cv_ll_reber_opts', "$L longlag reber --cell lstm --layers 1 --batch 4 --lr 0.01 --clip 1 --seed 1 --log-every 1 "
  "--backend reference --peephole --init default --forget-bias 1 --max-sequences 64 --max-seconds 3 --hidden 4 --seeds 1 "
  "--threads 1 --json o/cv_ll_reber.json", 'ok', check=JSONOK.format(p='o/cv_ll_reber.json'))
c('cv_ll_init_bogus', f"$L longlag adding --T 20 {LL} --init bogus")
c('cv_ll_cell_bogus', f"$L longlag adding --T 20 {LL} --cell bogus")
c('cv_su_jobs_params', f"{SU} --jobs 2 --params T=20 --name mini --out o/cv_su1", 'any', timeout=90)
c('cv_su_out_devnull', f"{SU} --out devnull", check="test -c devnull")
c('cv_gf_opts', "$L longlag gradflow --task adding-modern --T 20 --cells lstm,gru --hidden 4 --batch 4 --init chrono "
  "--train-sequences 16 --seed 1 --out o/cv_gf1", 'ok', timeout=90)
c('cv_gf_task_bogus', "$L longlag gradflow --task bogus --out o/cv_gf2")
c('cv_gf_init_bogus', "$L longlag gradflow --task adding --init bogus --out o/cv_gf3")
# bench
c('cv_bn_cells_two', "$L bench --quick --cells LSTM GRU --repeats 1 --no-extras --out o/cv_bn1.json", 'ok', timeout=180,
  check=JSONOK.format(p='o/cv_bn1.json'))
c('cv_bn_out_devnull', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out devnull", 'any',
  check="test -c devnull")
c('cv_bn_out_missingdir', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out o/nodir7/x.json", 'any')
# misc
c('mi_help_unknown_flag', "$L sample runs/charlm --bogus-flag")
c('mi_version_extra', "$L --version extra", 'any')
c('mi_double_dash', "$L sample -- runs/charlm --length 5", 'any')

# =========================================================================================================
# new: output targets: through a symbolic link (the target gets the content, the link stays a link), into a
# FIFO with a reader, into a character device, onto a directory (refused)
group("target")
c('ot_link_eval_dir', f"{E} runs/fcsv --data series_new.csv --out o/ot_evlink", 'ok',
  setup="rm -rf o/ot_evdir o/ot_evlink && mkdir o/ot_evdir && ln -s ot_evdir o/ot_evlink",
  check="test -L o/ot_evlink && test -n \"$(ls -A o/ot_evdir)\"")
c('ot_link_gradflow_dir', f"{G} --out o/ot_gflink", 'ok',
  setup="rm -rf o/ot_gfdir o/ot_gflink && mkdir o/ot_gfdir && ln -s ot_gfdir o/ot_gflink",
  check="test -L o/ot_gflink && ls o/ot_gfdir/*.png >/dev/null")
c('ot_link_pngdir', f"{I} --text hello --out o/ot_in1.html --png-dir o/ot_pnglink", 'ok',
  setup="rm -rf o/ot_pngdir o/ot_pnglink && mkdir o/ot_pngdir && ln -s ot_pngdir o/ot_pnglink",
  check="test -L o/ot_pnglink && ls o/ot_pngdir/*.png >/dev/null")
c('ot_link_bench', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out o/ot_bnlink.json", 'ok',
  setup="rm -f o/ot_bnlink.json o/ot_bnt.json; echo old > o/ot_bnt.json; ln -s ot_bnt.json o/ot_bnlink.json",
  check="test -L o/ot_bnlink.json && " + JSONOK.format(p='o/ot_bnt.json'))
c('ot_link_chain', f"{CLN} --out o/ot_chain1.npz", 'ok',
  setup="rm -f o/ot_chain*.npz; echo old > o/ot_chain3.npz; ln -s ot_chain3.npz o/ot_chain2.npz; ln -s ot_chain2.npz o/ot_chain1.npz",
  check="test -L o/ot_chain1.npz && test -L o/ot_chain2.npz && " + NPZ3.format(p='o/ot_chain3.npz'))
c('ot_link_dangling_file', f"{CLN} --out o/ot_dangle.npz", 'any',
  setup="rm -f o/ot_dangle.npz o/ot_dangle_t.npz; ln -s ot_dangle_t.npz o/ot_dangle.npz",
  check="test -L o/ot_dangle.npz && { test ! -e o/ot_dangle_t.npz || " + NPZ3.format(p='o/ot_dangle_t.npz') + "; }")
c('ot_link_to_input', f"$L forecast runs/fcsv --csv o/ot_in.csv --out o/ot_in_link.csv",
  setup="cp series_new.csv o/ot_in.csv; rm -f o/ot_in_link.csv; ln -s ot_in.csv o/ot_in_link.csv",
  check="cmp series_new.csv o/ot_in.csv")
for nm, cmd, chk in [
    ('ctclines', f"{CLN} --out o/ot_f1.fifo", NPZ3.format(p='o/ot_f1.fifo.got')),
    ('forecast', f"{F} --out o/ot_f2.fifo", "test $(wc -l < o/ot_f2.fifo.got) -ge 4"),
    ('longlag', f"$L longlag adding --T 20 {LL} --json o/ot_f3.fifo", JSONOK.format(p='o/ot_f3.fifo.got')),
    ('inspect', f"{I} --text hello --no-png --out o/ot_f4.fifo", "grep -qi html o/ot_f4.fifo.got"),
    ('plot', f"{F} --plot o/ot_f5.fifo", "head -c 8 o/ot_f5.fifo.got | grep -q PNG"),
    ('bench', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out o/ot_f6.fifo", JSONOK.format(p='o/ot_f6.fifo.got')),
]:
    c(f'ot_fifo_{nm}', cmd, 'ok', fifo_out=cmd.split()[-1], check=chk)
c('ot_devnull_ctclines_train', f"{CLN} --split train --out devnull", 'ok', check="test -c devnull")
c('ot_devnull_inspect_pngdir', f"{I} --text hello --out o/ot_in2.html --png-dir devnull", check="test -c devnull")
c('ot_devnull_eval_outdir', f"{E} runs/charlm --data shk.txt --out devnull", 'any', check="test -c devnull")
c('ot_dir_forecast_plot', f"{F} --plot o", check="test -d o")
c('ot_dir_inspect_out', f"{I} --text hello --no-png --out o", check="test -d o")
c('ot_dir_bench', "$L bench --quick --cells LSTM --repeats 1 --no-extras --out o", check="test -d o")
c('ot_dir_longlag_json', f"$L longlag adding --T 20 {LL} --json o", check="test -d o")
c('ot_dir_ctclines_link', f"{CLN} --out f/link_adir", check="test -L f/link_adir && test -d f/adir")
c('ot_stdout_devnull', f"{S} > devnull", 'ok')
c('ot_stdout_fifo', f"{F} > o/ot_f7.fifo", 'ok', fifo_out='o/ot_f7.fifo', check="test $(wc -l < o/ot_f7.fifo.got) -ge 4")


# =========================================================================================================
# new: process faults: kill -9 / Ctrl-C during training then --resume must equal an uninterrupted run of the
# same seed (metrics without wall-clock fields, final weights); two concurrent --resume of one run
group("fault")
TIMING = re.compile(r"(^|_)(time|elapsed|wall|speed|secs?|seconds|eta)($|_)|_per_s$|per_sec")


def _cmd(ctx, cmd):
    return shlex.split(cmd.replace("$L", ctx.lstmkit))


def _spawn(ctx, cmd, tag):
    out = open(ctx.work / "o" / f"{tag}.out", "wb")
    err = open(ctx.work / "o" / f"{tag}.err", "wb")
    p = subprocess.Popen(_cmd(ctx, cmd), cwd=ctx.work, env=ctx.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    p._files = (out, err, tag)
    return p


def _finish(ctx, p, timeout):
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        p.returncode = 124
    out, err, tag = p._files
    out.close()
    err.close()
    return (p.returncode, (ctx.work / "o" / f"{tag}.out").read_text("utf-8", "replace"),
            (ctx.work / "o" / f"{tag}.err").read_text("utf-8", "replace"))


def _ckpt_step(run: pathlib.Path):
    try:
        return json.loads((run / "checkpoints" / "last.json").read_text())["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _wait_ckpt(p, run, min_step, deadline_s=150):
    t0 = time.time()
    while time.time() - t0 < deadline_s:
        s = _ckpt_step(run)
        if s is not None and s >= min_step:
            return s
        if p.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def _metrics(run: pathlib.Path):
    recs = []
    for line in (run / "metrics.jsonl").read_text("utf-8", "replace").splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            recs.append({"unparsable": line[:80]})
    return recs


def _strip(recs):
    return [{k: v for k, v in r.items() if not TIMING.search(k)} for r in recs]


def _temp_files(run: pathlib.Path):
    return sorted(str(p.relative_to(run)) for p in run.rglob("*")
                  if ".tmp" in p.name or p.name.endswith("~") or (p.name.startswith(".") and p.name != ".lock"))


def _compare_to_ref(ctx, run, problems, detail):
    ref = ctx.work / "runs" / "fault_ref"
    a, b = _strip(_metrics(ref)), _strip(_metrics(run))
    detail["metrics_records"] = [len(a), len(b)]
    if a != b:
        diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        problems.append(f"metrics.jsonl differs from the uninterrupted run at record {diff}: "
                        f"ref={a[diff] if diff < len(a) else None} got={b[diff] if diff < len(b) else None}")
    steps = [r.get("step") for r in b]
    if len(steps) != len(set(steps)):
        problems.append(f"duplicate steps in metrics.jsonl: {steps}")
    ra, rb = (json.loads((r / "checkpoints" / "last.json").read_text()) for r in (ref, run))
    if ra.get("tensors_sha256") != rb.get("tensors_sha256"):
        problems.append(f"final weights differ from the uninterrupted run (last.json tensors_sha256, steps "
                        f"{ra.get('step')} vs {rb.get('step')})")
    tmp = _temp_files(run)
    if tmp:
        problems.append(f"temporary files left in the run folder: {tmp}")


def _interrupt_then_resume(ctx, sig, name):
    run_rel = f"runs_t/{name}"
    run = ctx.work / run_rel
    problems, detail, errs, outs = [], {}, [], []
    p = _spawn(ctx, f"{_fx.FAULT} --max-steps {_fx.FAULT_STEPS} --out {run_rel}", f"{name}.1")
    step = _wait_ckpt(p, run, 30)
    if step is None or p.poll() is not None:
        rc, o, e = _finish(ctx, p, 5)
        return dict(rc=rc, out=o, err=e, problems=[f"no checkpoint at step >= 30 while running (rc={rc}); "
                                                    "cannot interrupt mid-run"], detail=detail)
    time.sleep(0.15)
    detail["checkpoint_step_before_signal"] = step
    p.send_signal(sig)
    rc1, o, e = _finish(ctx, p, 60)
    errs.append(e)
    outs.append(o)
    detail["interrupted_rc"] = rc1
    detail["interrupted_stderr"] = e.strip().splitlines()[-3:]
    detail["step_after_interrupt"] = _ckpt_step(run)
    if sig == signal.SIGINT:
        if rc1 != 130:
            problems.append(f"Ctrl-C (SIGINT) exit status {rc1}, want 130")
        if len(e.splitlines()) > 1:
            problems.append(f"Ctrl-C printed {len(e.splitlines())} stderr lines, want at most 1")
    if detail["step_after_interrupt"] is not None and detail["step_after_interrupt"] >= _fx.FAULT_STEPS:
        problems.append("the run had finished before the signal; nothing was tested")
    tmp = _temp_files(run)
    if tmp:
        detail["temp_files_after_interrupt"] = tmp
    q = _spawn(ctx, f"$L train charlm --resume {run_rel}", f"{name}.2")
    rc2, o, e = _finish(ctx, q, ctx.timeout)
    errs.append(e)
    outs.append(o)
    detail["resume_rc"] = rc2
    if rc2 != 0:
        problems.append(f"--resume exit status {rc2}: {e.strip().splitlines()[-1:] }")
    else:
        _compare_to_ref(ctx, run, problems, detail)
    return dict(rc=rc2, out="".join(outs), err="".join(errs), problems=problems, detail=detail)


def fault_kill9_resume(ctx):
    return _interrupt_then_resume(ctx, signal.SIGKILL, "fault_kill9")


def fault_sigint_resume(ctx):
    return _interrupt_then_resume(ctx, signal.SIGINT, "fault_sigint")


def fault_concurrent_resume(ctx):
    name = "fault_conc"
    run_rel = f"runs_t/{name}"
    run = ctx.work / run_rel
    problems, detail = [], {}
    p = _spawn(ctx, f"{_fx.FAULT} --max-steps 5000 --out {run_rel}", f"{name}.0")
    if _wait_ckpt(p, run, 10) is None:
        rc, o, e = _finish(ctx, p, 5)
        return dict(rc=rc, out=o, err=e, problems=[f"the first training made no checkpoint (rc={rc})"], detail=detail)
    p.kill()
    _finish(ctx, p, 30)
    a = _spawn(ctx, f"$L train charlm --resume {run_rel}", f"{name}.A")
    t0, held = time.time(), False
    while time.time() - t0 < 120 and a.poll() is None:
        try:
            held = (run / ".lock").read_text().strip() == str(a.pid)
        except OSError:
            held = False
        if held:
            break
        time.sleep(0.05)
    if not held:
        rc, o, e = _finish(ctx, a, 5)
        return dict(rc=rc, out=o, err=e, problems=[f"the first --resume never held {run_rel}/.lock (rc={rc})"],
                    detail=detail)
    b = _spawn(ctx, f"$L train charlm --resume {run_rel}", f"{name}.B")
    rcb, ob, eb = _finish(ctx, b, ctx.timeout)
    a_alive = a.poll() is None
    detail.update(holder_pid=a.pid, second_rc=rcb, second_stderr=eb.strip().splitlines(), first_alive_after=a_alive)
    if not a_alive:
        problems.append("the first --resume ended before the second finished; the lock was not contended")
    if rcb != 2:
        problems.append(f"second --resume exit status {rcb}, want 2")
    lines = eb.splitlines()
    if len(lines) != 1:
        problems.append(f"second --resume printed {len(lines)} stderr lines, want 1")
    if str(a.pid) not in eb:
        problems.append(f"second --resume's error does not name the lock holder's pid {a.pid}")
    a.send_signal(signal.SIGINT)
    rca, oa, ea = _finish(ctx, a, 60)
    detail["first_rc_after_sigint"] = rca
    recs = _metrics(run)
    steps = [r.get("step") for r in recs]
    if len(steps) != len(set(steps)) or steps != sorted(steps):
        problems.append(f"metrics.jsonl steps duplicated or out of order: {steps}")
    tmp = _temp_files(run)
    if tmp:
        problems.append(f"temporary files left in the run folder: {tmp}")
    return dict(rc=rcb, out=ob, err=eb + ea, problems=problems, detail=detail)


def sigint_train(ctx):
    """Ctrl-C once training runs (the first metrics line is out): exit 130, at most one stderr line, a checkpoint."""
    name = "sigint_train"
    run = ctx.work / "runs_t" / name
    p = _spawn(ctx, f"{CHL} --out runs_t/{name}", name)
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not (run / "metrics.jsonl").exists():
        time.sleep(0.05)
    problems = []
    if p.poll() is not None:
        problems.append("training ended before it could be interrupted")
    p.send_signal(signal.SIGINT)
    rc, o, e = _finish(ctx, p, 60)
    if rc != 130:
        problems.append(f"exit status {rc}, want 130")
    if len(e.splitlines()) > 1:
        problems.append(f"{len(e.splitlines())} stderr lines, want at most 1")
    for f in ("checkpoints/last.json", "config.json"):
        if not (run / f).exists():
            problems.append(f"no {f} after Ctrl-C")
    return dict(rc=rc, out=o, err=e, problems=problems, detail={})


fault_kill9_resume.__doc__ = ("kill -9 during training (after a checkpoint), then --resume: metrics.jsonl (less "
                              "wall-clock fields) and final weights equal runs/fault_ref; no temp files")
fault_sigint_resume.__doc__ = ("SIGINT during training (after a checkpoint): exit 130; then --resume: metrics.jsonl and "
                               "final weights equal runs/fault_ref; no temp files")
fault_concurrent_resume.__doc__ = ("a run killed after its first checkpoint, two concurrent --resume: the second exits 2 "
                                   "with one line naming the holder's pid; steps in metrics.jsonl not duplicated")
for fn in (fault_kill9_resume, fault_sigint_resume, fault_concurrent_resume):
    CASES.append(dict(name=fn.__name__, fn=fn, expect="fn", group="fault", needs=["fault_ref"], serial=True,
                      cmd=f"(python) {fn.__doc__}"))
CASES.append(dict(name="sigint_train", fn=sigint_train, expect="fn", group="followup", serial=True,
                  cmd=f"{CHL} --out runs_t/sigint_train  (SIGINT once metrics.jsonl exists; want exit 130, "
                      f"<= 1 stderr line, a checkpoint)"))

# ---------------------------------------------------------------------------------------------------------
_names = [c_["name"] for c_ in CASES]
assert len(_names) == len(set(_names)), sorted({n for n in _names if _names.count(n) > 1})
