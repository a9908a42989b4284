#!/usr/bin/env bash
# Run one fuzz target for a while: tests/fuzz/run.sh TARGET [SECONDS]
# cargo fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them. Seeds: our fixtures, plus keepalived's samples when ../shared is present.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-600}
mkdir -p "corpus/$target"
extra=()
if [ "$target" = config_keepalived ] && [ -d ../../../shared/corpus/keepalived-samples ]; then
    extra+=(../../../shared/corpus/keepalived-samples)
fi
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . -O "$target" "corpus/$target" "seeds/$target" "${extra[@]}" \
    -- -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048
