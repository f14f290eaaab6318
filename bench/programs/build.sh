#!/usr/bin/env bash
# Rebuilds the benchmark objects from their C sources. The objects are committed so the
# benchmark runs where clang is absent; `cargo test -p oxbpf-bench` checks they match.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${OXBPF_CLANG:-clang}
for c in *.c; do
	"$CLANG" -O2 -target bpf -mcpu=v3 -c "$c" -o "${c%.c}.o"
done
