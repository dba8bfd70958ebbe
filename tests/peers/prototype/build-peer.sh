#!/usr/bin/env bash
# Generic: build-peer.sh WRAPPER_DIR OUT_DIR NAME=PKG [NAME=PKG ...]
# Builds each PKG through the wrapper module in WRAPPER_DIR into OUT_DIR/NAME (skips if present).
# Extra linker flags: LDFLAGS_EXTRA env var.
set -euo pipefail
wrap=$1; out=$2; shift 2
mkdir -p "$out"
cd "$wrap"
export GOFLAGS="${GOFLAGS_OVERRIDE:--buildvcs=false -p=1 -mod=readonly -trimpath}"
export CGO_ENABLED=${CGO_ENABLED:-0}
for spec in "$@"; do
  name=${spec%%=*}; pkg=${spec#*=}
  if [ -x "$out/$name" ]; then echo "peers: $out/$name present"; continue; fi
  echo "peers: building $name ($pkg) -> $out/$name"
  s=$(date +%s)
  nice -n 19 ionice -c3 go build -ldflags "-s -w ${LDFLAGS_EXTRA:-}" -o "$out/$name.tmp" "$pkg"
  mv "$out/$name.tmp" "$out/$name"
  echo "peers: built $name in $(( $(date +%s) - s ))s"
done
