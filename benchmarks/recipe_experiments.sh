#!/usr/bin/env bash
# Reproduce the training-recipe experiments of docs/recipe-experiments.md.
#
#   benchmarks/recipe_experiments.sh                 # every experiment, one after another
#   benchmarks/recipe_experiments.sh r01 r05         # only these
#   benchmarks/recipe_experiments.sh --list          # names and flags
#   benchmarks/recipe_experiments.sh --table         # markdown table of what has run so far
#
# Work folder: $RECIPE_DIR (default /tmp/recipe). Training uses the default --threads 1 and runs
# ONE at a time so that the seconds per epoch are comparable. For each run it keeps
# runs/NAME/ (the run folder), train.log, wall.txt (/usr/bin/time -f %e of `kanjinum train`),
# eval-test.json (the random test split) and eval-hard.json (the hard set made for its data file).
set -euo pipefail

K=${KANJINUM:-kanjinum}
# These runs were made before their findings became the defaults: pin the defaults of that time
# (later flags win, so each experiment's own flags still apply). The hard-case generator has
# changed since too (group boundaries), so regenerated data are not byte-identical to the runs'.
THEN_TRAIN="--hidden 256 --batch 128 --lr 0.001 --schedule constant --epochs 10 --oversample 0"
THEN_DATA="--hard-share 0.1"
THEN_HARD="--per-kind 500"
# The Python that kanjinum runs in (its scripts import kanjinum). $K is usually a bare
# `kanjinum` found on PATH, whose dirname is `.`: look it up first, then take the interpreter
# its console script names on its #! line (a venv's bin/python, pipx's, ...).
python_of() {
  local path
  path=$(command -v "$1") || { echo "error: $1 not found; activate the environment that has kanjinum, or set KANJINUM" >&2; exit 2; }
  if [[ -x $(dirname "$path")/python ]]; then echo "$(dirname "$path")/python"; return; fi
  head -n 1 "$path" | sed -n 's/^#!\([^ ]*python[^ ]*\).*/\1/p'
}
W=${RECIPE_DIR:-/tmp/recipe}
mkdir -p "$W/data" "$W/runs"

# Data sets: TAG|gen-data flags. Each gets its own hard set, made to avoid its questions.
DATA=(
  "d0|"
  "d0s1|--seed 1"
  "hs05|--hard-share 0.05"
  "hs20|--hard-share 0.2"
  "hs30|--hard-share 0.3"
  "hs40|--hard-share 0.4"
  "hs30s1|--hard-share 0.3 --seed 1"
  "hs30s2|--hard-share 0.3 --seed 2"
  "hs40s1|--hard-share 0.4 --seed 1"
  "hs20s1|--hard-share 0.2 --seed 1"
)

# Experiments: NAME|DATA TAG|kanjinum train flags (beyond --data/--out/--force/--show 0).
EXPS=(
  "r01|d0|--no-mask --no-bucket --hidden 256 --lr 0.001 --epochs 2"
  "r02|d0|--hidden 128 --lr 0.005 --lr-decay 0.8 --epochs 15 --target-acc 0.999"
  "r03|d0|--hidden 128 --lr 0.01 --lr-decay 0.85 --epochs 12 --target-acc 0.999"
  "r04|hs20|--hidden 128 --lr 0.01 --lr-decay 0.85 --epochs 12 --target-acc 0.999"
  "r05|d0|--hidden 128 --lr 0.01 --lr-decay 0.75 --epochs 11 --oversample 0.1"
  "r06|d0|--hidden 64 --lr 0.01 --lr-decay 0.9 --epochs 28"
  "r07|hs30|--hidden 64 --lr 0.01 --lr-decay 0.9 --epochs 28"
  "r08|hs30|--hidden 64 --lr 0.01 --lr-decay 0.85 --epochs 24"
  "r09|hs40|--hidden 64 --lr 0.01 --lr-decay 0.85 --epochs 24"
  "r10|hs30s1|--hidden 64 --lr 0.01 --lr-decay 0.85 --epochs 24 --seed 1"
  "r11|hs30|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.85 --epochs 20"
  "r12|hs30s1|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.85 --epochs 20 --seed 1"
  "r13|hs30s2|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.85 --epochs 20 --seed 2"
  "r14|hs30s2|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.87 --epochs 24 --seed 2"
  "r15|hs30|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.87 --epochs 24"
  "r16|hs30s1|--hidden 64 --batch 64 --lr 0.005 --lr-decay 0.87 --epochs 24 --seed 1"
)

data_flags() {
  local tag=$1 line
  for line in "${DATA[@]}"; do
    if [[ ${line%%|*} == "$tag" ]]; then echo "${line#*|}"; return; fi
  done
  echo "unknown data tag $tag" >&2; exit 2
}

make_data() {
  local tag=$1 flags
  flags=$(data_flags "$tag")
  if [[ ! -f $W/data/$tag.txt ]]; then
    # shellcheck disable=SC2086
    "$K" gen-data --out "$W/data/$tag.txt" $THEN_DATA $flags
    "$K" gen-data --task hard --exclude "$W/data/$tag.txt" --out "$W/data/$tag-hard.txt" $THEN_HARD
  fi
}

run_exp() {
  local line=$1 name tag flags dir
  name=${line%%|*}; line=${line#*|}; tag=${line%%|*}; flags=${line#*|}
  make_data "$tag"
  dir=$W/runs/$name
  mkdir -p "$dir"
  echo "== $name: gen-data $(data_flags "$tag") | train $flags"
  # shellcheck disable=SC2086
  /usr/bin/time -f %e -o "$dir/wall.txt" \
    "$K" train --data "$W/data/$tag.txt" --out "$dir/run" --force --show 0 $THEN_TRAIN $flags \
    > "$dir/train.log" 2>&1
  "$K" eval --run "$dir/run" --json > "$dir/eval-test.json"
  "$K" eval --run "$dir/run" --data "$W/data/$tag-hard.txt" --json > "$dir/eval-hard.json"
  "$K" eval --run "$dir/run" --data "$W/data/$tag-hard.txt" --errors --show 40 \
    > "$dir/hard-errors.txt" 2>&1 || true
  final_eval "$dir" "$W/data/$tag-hard.txt"
  echo "$tag" > "$dir/data-tag.txt"
  echo "$flags" > "$dir/flags.txt"
  "$K_PY" - "$dir" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
h = json.loads((d / "run/history.json").read_text())
t = json.loads((d / "eval-test.json").read_text()); k = json.loads((d / "eval-hard.json").read_text())
print(f"   epochs {len(h)}, train s {sum(r['seconds'] for r in h):.1f}, wall s {(d/'wall.txt').read_text().split()[-1]}, "
      f"test {t['accuracy']:.4%}, hard {k['accuracy']:.4%} ({k['total']-k['correct']} wrong)")
PY
}

# model.npz is the epoch with the best random-test accuracy (the later one, on ties); this also
# scores the LAST epoch's weights (from state.npz) on both test sets: DIR/final-eval.json.
final_eval() {
  "$K_PY" - "$1" "$2" "$K" <<'PY'
import sys, shutil, json, subprocess, numpy as np, pathlib
d, hard, K = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
dst = d / "final"
shutil.rmtree(dst, ignore_errors=True); dst.mkdir()
shutil.copy(d / "run/config.json", dst / "config.json")
with np.load(d / "run/state.npz", allow_pickle=False) as z:
    params = {k.removeprefix("param/"): z[k] for k in z.files if k.startswith("param/")}
np.savez(dst / "model.npz", **params)
ev = lambda *a: json.loads(subprocess.run([K, "eval", "--run", str(dst), "--json", *a],
                                          capture_output=True, text=True, check=True).stdout)
t, h = ev(), ev("--data", hard)
json.dump({"test": t, "hard": h}, open(d / "final-eval.json", "w"))
print(f"   last epoch: test {t['accuracy']:.4%}, hard {h['accuracy']:.4%} ({h['total']-h['correct']} wrong)")
PY
}

# Seconds per epoch of several sizes, from a sample of bucketed batches (not a training run).
probe() {
  make_data d0
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$K_PY" - "$W/data/d0.txt" <<'PY'
import sys, time, numpy as np
from kanjinum import data as D, train as T
from kanjinum.models import ModelConfig, build_model
from kanjinum.optim import Adam, clip_grads
ds = D.read_dataset(sys.argv[1]); tr, te = D.split_dataset(ds, 1984)
vocab = D.Vocab.from_texts(ds.questions + ds.answers); enc = D.encode_dataset(tr, vocab)
for kind, hidden, batch in [("attention", 128, 128), ("attention", 96, 128), ("attention", 80, 128),
                            ("attention", 64, 128), ("attention", 128, 64), ("attention", 64, 64),
                            ("attention", 128, 256), ("attention", 64, 256), ("attention", 192, 128),
                            ("peeky", 128, 128)]:
    cfg = T.TrainConfig(model=kind, hidden=hidden, batch=batch)
    m = build_model(ModelConfig(kind, len(vocab), 16, hidden), seed=0)
    run = T.Run(m, vocab, ds.question_width, ds.answer_width, True, True, cfg)
    opt = Adam(lr=0.001); batches = T.epoch_batches(np.random.default_rng(0), enc.question_lengths, batch, True)
    n = max(8, int(len(batches) * 0.15)); t = time.perf_counter()
    for b in batches[:n]:
        xs, ts, sm, tm = T.batch_arrays(run, enc, b)
        m.forward(xs, ts, sm, tm); m.backward(); clip_grads(m.grads, 5.0); opt.update(m.params, m.grads)
    dt = time.perf_counter() - t
    print(kind, hidden, batch, f"{dt / n * 1000:.1f} ms/iter, ~{dt / n * len(batches):.1f} s/epoch", flush=True)
PY
}

table() {
  python3 - "$W" "${DATA[@]}" -- "${EXPS[@]}" <<'PY'
import json, sys, pathlib
W = pathlib.Path(sys.argv[1]); args = sys.argv[2:]; cut = args.index("--")
data = dict(a.split("|", 1) for a in args[:cut])
kinds = ["single", "round", "repeated", "short", "sparse", "group", "other"]
print("| run | gen-data | train flags | epochs | train s | wall s | s/epoch | test | hard (wrong) | "
      + " | ".join(kinds) + " | last epoch: test / hard (wrong) |")
print("|" + "---|" * (10 + len(kinds)))
def pct(x): return "100" if x == 1 else f"{100*x:.2f}"
for line in args[cut + 1:]:
    name, tag, flags = line.split("|", 2)
    d = W / "runs" / name
    if not (d / "eval-hard.json").exists():
        continue
    h = json.loads((d / "run/history.json").read_text())
    t = json.loads((d / "eval-test.json").read_text()); k = json.loads((d / "eval-hard.json").read_text())
    secs = sum(r["seconds"] for r in h)
    wall = float((d / "wall.txt").read_text().split()[-1])
    last = "-"
    if (d / "final-eval.json").exists():
        f = json.loads((d / "final-eval.json").read_text())
        last = f"{pct(f['test']['accuracy'])} / {pct(f['hard']['accuracy'])} ({f['hard']['total']-f['hard']['correct']})"
    per = [f"{pct(k['by_kind'][c]['accuracy'])} ({k['by_kind'][c]['total']-k['by_kind'][c]['correct']})"
           if c in k["by_kind"] else "-" for c in kinds]
    print(f"| {name} | `{data[tag] or '(default)'}` | `{flags}` | {len(h)} | {secs:.0f} | {wall:.0f} | "
          f"{secs/len(h):.1f} | {pct(t['accuracy'])} | {pct(k['accuracy'])} ({k['total']-k['correct']}) | "
          + " | ".join(per) + f" | {last} |")
PY
}

case "${1:-}" in
  --list) printf '%s\n' "${DATA[@]}" "${EXPS[@]}"; exit 0 ;;
  --table) table; exit 0 ;;
esac
# Looked up here, not at the start: --list and --table run no kanjinum, and need none installed
K_PY=${KANJINUM_PYTHON:-$(python_of "$K")}
if [[ ${1:-} == --probe ]]; then probe; exit 0; fi
for line in "${EXPS[@]}"; do
  name=${line%%|*}
  if [[ $# -eq 0 ]] || [[ " $* " == *" $name "* ]]; then run_exp "$line"; fi
done
