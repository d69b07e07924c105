#!/usr/bin/env bash
# Runs fuzz targets one after the other for a fixed time each and prints, per target, the
# runs, coverage and length libFuzzer reported. Exits non-zero on the first crash, hang,
# out-of-memory or leak (libFuzzer then leaves the input under fuzz/artifacts/<target>/).
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Only the stable toolchain is
# assumed: RUSTC_BOOTSTRAP=1 lets it take the -Z sanitizer flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds=${1:-60}
# AddressSanitizer (the default, as the long runs in docs/reliability.md used) or `none`:
# the targets are safe Rust, where a panic, hang or runaway allocation is found either
# way, and an uninstrumented build of the C parts (bundled SQLite, zstd, lz4) is several
# times quicker, which is what CI's short runs use.
sanitizer=${VLA_PERF_FUZZ_SANITIZER:-address}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

# Config targets also start from every shipped config and every bad-config fixture (not
# copied here: they live where the config tests read them).
seed_dirs() {
  echo "seeds/$1"
  [ -d "regressions/$1" ] && echo "regressions/$1"
  case $1 in
    config_*) printf '%s\n' ../config ../config/scenarios ../tests/fixtures/bad_configs ;;
  esac
}

# One build of every target up front, so that build output stays out of the run logs.
cargo fuzz build --sanitizer "$sanitizer"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="corpus/$target.log"
  mapfile -t seeds < <(seed_dirs "$target")
  echo "---- fuzz $target for ${seconds}s ----"
  # -rss_limit_mb / -malloc_limit_mb: an input that makes us allocate without bound is a
  # finding; -timeout: one input running 10 s is a hang.
  if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz $target: FAILED (input under fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  echo "fuzz $target: ok: ${runs:-?}s; ${cov:-?}"
done
