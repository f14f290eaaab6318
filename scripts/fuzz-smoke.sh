#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a short while.
#
#   scripts/fuzz-smoke.sh [SECONDS] [TARGET...]
#
# SECONDS (default 30) is per target; TARGET defaults to every file in fuzz/fuzz_targets/.
#
# Engine: cargo-fuzz (libFuzzer with coverage feedback and AddressSanitizer), run on the
# stable toolchain with RUSTC_BOOTSTRAP=1 because cargo-fuzz passes nightly-only flags.
# Install it with `cargo install cargo-fuzz`. When cargo-fuzz is missing or cannot build,
# the script falls back to building the same target binaries with plain
# `cargo build --release` (libfuzzer-sys still links libFuzzer's driver) and running them
# with the same libFuzzer options: the same target code on mutated random inputs for
# SECONDS, without coverage guidance or sanitizers. Set OXBPF_FUZZ_ENGINE=plain to force
# the fallback.
#
# Seed corpora: the assemble target starts from the `-- asm` sections of the conformance
# suite, the decode and interp targets from its `.hex` programs (suite found via
# $OXBPF_CONFORMANCE_DIR or a `shared/conformance` directory above the repository), the
# object target from the committed fixture objects (tests/fixtures/*.o, examples/*.o).
# Crashes land in fuzz/artifacts/<target>/; reproduce one with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>` in fuzz/ (or run the plain binary
# fuzz/target/release/<target> <file>).
set -euo pipefail

secs="${1:-30}"
case "$secs" in
  ''|*[!0-9]*)
    echo "usage: scripts/fuzz-smoke.sh [SECONDS] [TARGET...] (SECONDS a whole number): got \`$secs'" >&2
    exit 2 ;;
esac
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
cd "$fuzz"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi

# The conformance suite, for seeds.
suite="${OXBPF_CONFORMANCE_DIR:-}"
if [ -z "$suite" ]; then
    d="$root"
    while [ "$d" != "/" ]; do
        if [ -d "$d/shared/conformance/tests" ]; then
            suite="$d/shared/conformance"
            break
        fi
        d="$(dirname "$d")"
    done
fi

seed() {
    local target="$1" dir="corpus/$1"
    mkdir -p "$dir"
    if [ "$target" = object ]; then
        # The committed fixture objects.
        [ -z "$(ls -A "$dir")" ] || return 0
        cp "$root"/tests/fixtures/*.o "$root"/examples/*.o "$dir"/ 2> /dev/null || true
        return 0
    fi
    [ -n "$suite" ] && [ -d "$suite/tests" ] || return 0
    [ -z "$(ls -A "$dir")" ] || return 0
    case "$target" in
        assemble)
            for f in "$suite"/tests/*.data; do
                awk '/--/ { s = ($0 ~ /asm/); next } s' "$f" > "$dir/$(basename "$f" .data)"
            done
            ;;
        decode)
            if command -v xxd > /dev/null; then
                for f in "$suite"/tests/*.hex; do
                    grep -v '^#' "$f" | xxd -r -p > "$dir/$(basename "$f" .hex)"
                done
            fi
            ;;
        interp)
            # First byte 0: no input memory; the rest is the program.
            if command -v xxd > /dev/null; then
                for f in "$suite"/tests/*.hex; do
                    { printf '\0'; grep -v '^#' "$f" | xxd -r -p; } > "$dir/$(basename "$f" .hex)"
                done
            fi
            ;;
    esac
}

engine="${OXBPF_FUZZ_ENGINE:-}"
if [ -z "$engine" ]; then
    if cargo fuzz --version > /dev/null 2>&1; then
        engine=cargo-fuzz
    else
        echo "cargo-fuzz not found (cargo install cargo-fuzz); using the plain libFuzzer driver" >&2
        engine=plain
    fi
fi

if [ "$engine" = cargo-fuzz ]; then
    for t in "${targets[@]}"; do
        if ! RUSTC_BOOTSTRAP=1 cargo fuzz build "$t"; then
            echo "cargo fuzz build failed; using the plain libFuzzer driver" >&2
            engine=plain
            break
        fi
    done
fi
if [ "$engine" = plain ]; then
    cargo build --release --bins
fi

status=0
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "artifacts/$t"
    echo "== $t: ${secs}s ($engine)"
    opts=(-max_total_time="$secs" -artifact_prefix="artifacts/$t/" -print_final_stats=1)
    if [ "$engine" = cargo-fuzz ]; then
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- "${opts[@]}" || status=1
    else
        "target/release/$t" "corpus/$t" "${opts[@]}" || status=1
    fi
done
exit $status
