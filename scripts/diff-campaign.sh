#!/usr/bin/env bash
# Long differential campaign for the JIT and the interpreter (the `cargo test` runs are a few thousand cases).
#
#   scripts/diff-campaign.sh [CASES] [FIRST_SEED]
#
# Generates CASES random programs (oxbpf-testgen) starting at FIRST_SEED (default: a seed
# from the clock, printed so a failure can be replayed) and checks that
#   1. the JIT agrees with the Linux kernel (XDP BPF_PROG_TEST_RUN): same 32-bit return
#      value and same packet afterwards, for programs the kernel's verifier accepts
#      (needs root and bpf(); prints SKIP otherwise);
#   2. the reference interpreter and the JIT agree (result, memory, instruction count, and
#      the error and pc when a budget cuts a run short);
#   3. every JIT option set (checked/verified, BMI2 or not, constant blinding) gives the same
#      result and memory on programs using everything the VM supports.
# A disagreement fails with the seed and a minimised program; add it as a regression test
# (tests/golden/*.test or a case in crates/oxbpf-testgen/tests).
# Replay one failure: scripts/diff-campaign.sh 1 SEED
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-20000}
SEED=${2:-$(date +%s)}
for v in "$CASES" "$SEED"; do
  case "$v" in
    ''|*[!0-9]*)
      echo "usage: scripts/diff-campaign.sh [CASES] [FIRST_SEED] (whole numbers): got \`$v'" >&2
      exit 2 ;;
  esac
done
echo "diff campaign: $CASES cases from seed $SEED"
export OXBPF_DIFF_SEED=$SEED
OXBPF_KERNEL_DIFF_CASES=$CASES cargo test --release -p oxbpf-testgen --test jit_vs_kernel -- --nocapture
OXBPF_DIFF_CASES=$CASES cargo test --release -p oxbpf-testgen --test jit_vs_interp -- --nocapture
OXBPF_DIFF_CASES=$CASES cargo test --release -p oxbpf-testgen --test jit_variants -- --nocapture
