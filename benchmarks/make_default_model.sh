#!/usr/bin/env bash
# Rebuild the model shipped in kanjinum/default_model/ with the default recipe, from scratch:
# plain `kanjinum gen-data` and plain `kanjinum train`, then the hard test set and the check.
# Run from anywhere; it works in the repository root. About 3 minutes of training on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
kanjinum gen-data --force                                         # data/kanji.txt
kanjinum gen-data --task hard --exclude data/kanji.txt --force     # data/hard.txt
/usr/bin/time -f "training wall time %e s" kanjinum train --out runs/default --force
mkdir -p kanjinum/default_model
cp runs/default/config.json runs/default/model.npz runs/default/history.json kanjinum/default_model/
kanjinum eval --run kanjinum/default_model         # the random test split (this checkout's copy)
kanjinum eval --run kanjinum/default_model --data data/hard.txt   # must be 100%
