#!/usr/bin/env bash
# Minimizes corpus/TARGET by edge coverage, keeping every named input
# (fixture seeds, hand__*, crash__*) whatever it covers: the named ones are
# the documented seeds and regression inputs, the hash-named ones are what
# the fuzzer grew and are kept only if they reach an edge nothing else does.
# Edges only (-use_counters=0): with hit counts the corpus stays several
# times larger for little gain.
#
# usage: ./cmin.sh TARGET   (from fuzz/, after `cargo fuzz build`)
set -euo pipefail
target=$1
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/$target
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/kept" "$work/grown"
for input in corpus/"$target"/*; do
    if [[ $(basename "$input") =~ ^[0-9a-f]{40}$ ]]; then
        cp "$input" "$work/grown/"
    else
        cp "$input" "$work/kept/"
    fi
done
"$bin" -merge=1 -use_counters=0 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work/kept" "$work/grown" 2>"$work/log"
grep 'MERGE-OUTER: .* new files' "$work/log" || true
rm -rf corpus/"$target"
cp -r "$work/kept" corpus/"$target"
echo "$target: $(ls corpus/"$target" | wc -l) files, $(du -s --apparent-size --block-size=1K corpus/"$target" | cut -f1) KiB"
