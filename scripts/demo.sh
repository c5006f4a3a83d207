#!/usr/bin/env bash
# The main job: train a small fully binary network on Fashion-MNIST, export it (blob, ONNX,
# report and a Cortex-M4 firmware project), build the firmware, run it under QEMU and report
# accuracy, agreement with PyTorch, flash / RAM and executed instructions per inference
# (docs/firmware.md). About 2 minutes on 2 cores.
#   EPOCHS=3 TARGET=cortex-m4 RUN=runs/demo bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin/binedge
PY=.venv/bin/python
RUN=${RUN:-runs/demo}
FW=${FW:-$RUN-fw}
TARGET=${TARGET:-cortex-m4}
rm -rf "$RUN" "$FW"  # the demo's own outputs: a re-run starts clean

echo "== 1/3 train: MLP 784-256-256-10, LAB binary weights, sign activations, ${EPOCHS:-3} epochs"
$BIN train --model mlp --weights lab --activation sign --hidden 256 --depth 2 --epochs "${EPOCHS:-3}" \
  --lr 0.005 --out "$RUN" --quiet

echo
echo "== 2/3 export: blob + ONNX + report (PyTorch vs reference on the whole test set) + $TARGET firmware"
# The firmware gets the first 64 test images (--samples N changes that, and also limits the check).
$BIN export "$RUN" --target "$TARGET" -o "$FW"

echo
echo "== 3/3 build and run under QEMU (make -C $FW; binedge emulate $FW)"
$BIN emulate "$FW"

$PY - "$RUN" "$FW" <<'PYEOF'
import json, sys
from pathlib import Path
run, fw = map(Path, sys.argv[1:])
best = json.loads((run / "metrics.json").read_text())["best"]
a = json.loads((fw / "report.json").read_text())["agreement"]
e = json.loads((fw / "emulate.json").read_text())
mem = e["memory"]
print()
print("== summary")
print(f"PyTorch test accuracy {best['test_acc']:.4f} (best validation epoch {best['epoch']})")
print(f"integer reference on all {a['samples']:,} test images: accuracy {a['reference_accuracy']:.4f}; agrees with "
      f"PyTorch on {a['agree']:,} ({100 * a['agreement']:.2f}%; threshold ties {a['ties']}, disagreements without a "
      f"tie {a['disagree_without_tie']})")
print(f"firmware on {e['target']} under QEMU: accuracy {e['accuracy']:.4f} on {e['samples']} test images; scores "
      f"bit-exact with the reference: {e['scores_equal_reference']}")
print(f"flash {mem['flash']:,} B (model blob {mem['blob_bytes']:,} B vs bit-packed bound "
      f"{mem['bitpacked_lower_bound_bytes']:,} B; {mem['flash_without_test_inputs']:,} B without the test images); "
      f"RAM {mem['ram_static']:,} B static (arena {mem['arena_bytes']:,} B) + {mem['stack_used']:,} B stack used")
print(f"{e['instructions_per_inference']:,.0f} instructions per inference (QEMU -icount: instructions, not cycles)")
PYEOF
