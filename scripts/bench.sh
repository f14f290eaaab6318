#!/usr/bin/env bash
# Runs the oxbpf benchmark (release build) and prints the report.
#
#   scripts/bench.sh                     # full run, plain-text tables
#   scripts/bench.sh --markdown          # Markdown tables, as in docs/BENCHMARKS.md
#   scripts/bench.sh --filter hash       # one program (repeatable)
#   scripts/bench.sh --quick             # shorter samples
#   scripts/bench.sh --rebuild-programs  # recompile bench/programs/*.c first (needs clang)
#
# Other arguments go to the benchmark binary (`--help` lists them). The kernel engine needs
# root and bpf(); without them it is listed as not run.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
for a in "$@"; do
	if [ "$a" = "--rebuild-programs" ]; then
		bench/programs/build.sh
	else
		args+=("$a")
	fi
done

cargo build --release -p oxbpf-bench >&2
exec target/release/oxbpf-bench "${args[@]+"${args[@]}"}"
