#!/usr/bin/env bash
# The long-lag benchmark: the measured tables of docs/longlag.md.
# Each stage takes the shared CPU lock, so timed runs never overlap with other timed work.
# Usage: bash benchmarks/longlag.sh [stage ...]   (stages: quick gradflow adding100 long long2 short 2c100 lstm1997)
set -euo pipefail
cd "$(dirname "$0")/.."
LK=".venv/bin/lstmkit"
OUT=benchmarks/results
LOCK="flock /tmp/lstmkit-cpu.lock"
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(quick gradflow adding100 long short 2c100)
for s in "${stages[@]}"; do
  case $s in
    quick)     $LOCK $LK longlag suite --quick --out $OUT ;;
    gradflow)  $LOCK $LK longlag gradflow --task adding --T 200 --train-seconds 100 --out $OUT/gradflow-adding-T200 ;;
    short)     $LOCK $LK longlag suite --tasks reber,2a,2b,3a,6a --seeds 3 --max-seconds 60 --name longlag-full-short --out $OUT ;;
    adding100) $LOCK $LK longlag suite --tasks adding --params T=100 --seeds 3 --max-seconds 120 --name longlag-full-adding100 --out $OUT ;;
    2c100)     $LOCK $LK longlag suite --tasks 2c --params T=100 --seeds 2 --max-seconds 120 --name longlag-full-2c100 --out $OUT ;;
    long)      # LSTM only: the long lags, one seed each
      $LOCK $LK longlag adding --T 500 --batch 16 --max-seconds 600 --json $OUT/longlag-lstm-adding500.json
      $LOCK $LK longlag 2c --T 1000 --p 1000 --max-seconds 1200 --json $OUT/longlag-lstm-2c1000.json
      bash "$0" long2 ;;
    long2)     # the rest of "long", LSTM only
      $LOCK $LK longlag 6b --max-seconds 300 --json $OUT/longlag-lstm-6b.json
      $LOCK $LK longlag reber --seeds 3 --max-seconds 120 --json $OUT/longlag-lstm-reber.json
      $LOCK $LK longlag 2a --p 100 --seeds 2 --max-seconds 120 --json $OUT/longlag-lstm-2a100.json
      $LOCK $LK longlag adding --T 1000 --batch 16 --max-seconds 900 --json $OUT/longlag-lstm-adding1000.json
      $LOCK $LK longlag multiplication --T 100 --batch 16 --max-seconds 300 --json $OUT/longlag-lstm-multiplication100.json
      ;;
    lstm1997)  # the 1997 network (memory blocks of Table 10), one seed each, at the paper's settings
      $LOCK $LK longlag suite --quick --cells lstm1997 --seeds 1 --jobs 1 --tasks adding,6a,2a,3a,multiplication --max-seconds 400 --name longlag-quick-1997 --out $OUT
      $LOCK $LK longlag reber --cell lstm1997 --max-sequences 100000 --max-seconds 900 --json $OUT/longlag-1997-reber.json
      $LOCK $LK longlag reber --cell lstm1997 --blocks 3 --cells-per-block 2 --max-sequences 100000 --max-seconds 600 --json $OUT/longlag-1997-reber3x2.json
      $LOCK $LK longlag adding --T 100 --cell lstm1997 --max-sequences 200000 --max-seconds 1200 --json $OUT/longlag-1997-adding100.json
      $LOCK $LK longlag 6a --cell lstm1997 --max-sequences 150000 --max-seconds 600 --json $OUT/longlag-1997-6a.json
      $LOCK $LK longlag 6b --cell lstm1997 --max-sequences 400000 --max-seconds 900 --json $OUT/longlag-1997-6b.json
      $LOCK $LK longlag multiplication --T 100 --cell lstm1997 --max-sequences 400000 --max-seconds 900 --json $OUT/longlag-1997-multiplication100.json
      ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done
