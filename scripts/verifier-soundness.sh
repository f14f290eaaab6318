#!/bin/sh
# Longer soundness campaign for the verifier: random and mutated programs that the
# verifier accepts must run without memory faults in the checked interpreter, and oxbpf
# must never accept what the Linux verifier rejects (when bpf() is available).
#
# usage: scripts/verifier-soundness.sh [SECONDS] [BATCH]
#   SECONDS  wall-clock budget (default 60)
#   BATCH    programs per generator and batch (default 20000)
# Seeds advance batch by batch from OXBPF_SOUNDNESS_SEED (default 1); a failure prints
# the seed and the program, and the script stops with status 1.
set -eu
budget=${1:-60}
batch=${2:-20000}
seed=${OXBPF_SOUNDNESS_SEED:-1}
for v in "$budget" "$batch" "$seed"; do
    case "$v" in
        ''|*[!0-9]*)
            echo "usage: scripts/verifier-soundness.sh [SECONDS] [BATCH] (whole numbers; OXBPF_SOUNDNESS_SEED too): got \`$v'" >&2
            exit 2 ;;
    esac
done
if [ "$batch" -lt 4 ]; then
    echo "verifier-soundness: BATCH must be at least 4 (a quarter of it goes to the kernel comparison)" >&2
    exit 2
fi
runs=0
cd "$(dirname "$0")/.."
cargo test --release -p oxbpf-verifier --test soundness --test kernel_differential --no-run >/dev/null 2>&1
start=$(date +%s)
status=0
while [ $(( $(date +%s) - start )) -lt "$budget" ]; do
    echo "seeds $seed..$((seed + batch - 1))"
    out=$(OXBPF_SOUNDNESS_SEED=$seed OXBPF_SOUNDNESS_COUNT=$batch \
        cargo test --release -q -p oxbpf-verifier --test soundness -- --nocapture 2>&1) || status=1
    echo "$out" | grep -E "programs|panicked|^seed [0-9]+" || true
    out=$(OXBPF_DIFF_SEED=$seed OXBPF_DIFF_COUNT=$((batch / 4)) \
        cargo test --release -q -p oxbpf-verifier --test kernel_differential -- --nocapture 2>&1) || status=1
    echo "$out" | grep -E "random programs|SKIP|panicked|^seed [0-9]+" || true
    if [ "$status" -ne 0 ]; then
        echo "FAILED (details above; rerun a failing seed with OXBPF_SOUNDNESS_SEED / OXBPF_DIFF_SEED)"
        exit 1
    fi
    seed=$((seed + batch))
    runs=$((runs + 1))
done
echo "no soundness problem found in $runs batch(es) of $batch programs per generator"
