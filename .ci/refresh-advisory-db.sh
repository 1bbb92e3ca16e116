#!/usr/bin/env bash
# Refreshes .ci/advisory-db: the RustSec advisories (https://github.com/rustsec/advisory-db)
# of every crate named in Cargo.lock, for CI machines that cannot reach GitHub.
# Usage: .ci/refresh-advisory-db.sh [ADVISORY_DB_CLONE]
#   (default: cargo-deny's own copy in ~/.cargo/advisory-dbs/advisory-db-*)
# Run it after adding a dependency and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/advisory-db-* 2>/dev/null | head -1)}
[ -d "$src/crates" ] || { echo "no advisory-db clone at '${src}' (git clone https://github.com/rustsec/advisory-db)" >&2; exit 1; }
out=.ci/advisory-db
rm -rf "$out/crates"
mkdir -p "$out/crates"
for name in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock | sort -u); do
    if [ -d "$src/crates/$name" ]; then cp -r "$src/crates/$name" "$out/crates/"; fi
done
commit=$(git -C "$src" log -1 --format='%H %cs' 2>/dev/null || echo unknown)
printf 'RustSec advisories for the crates of Cargo.lock, from rustsec/advisory-db %s.\nRefreshed by .ci/refresh-advisory-db.sh; used by .ci/run when no full clone is present.\n' "$commit" > "$out/SOURCE"
echo "$(find "$out/crates" -name '*.md' | wc -l) advisories for $(ls "$out/crates" | wc -l) crates, from $commit"
