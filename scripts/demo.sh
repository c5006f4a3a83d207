#!/usr/bin/env bash
# The main job: train a small binary network on Fashion-MNIST and report its test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin/binedge
RUN=${RUN:-runs/demo}
rm -rf "$RUN"
$BIN train --model mlp --weights lab --activation sign --hidden 256 --depth 2 --epochs ${EPOCHS:-3} \
  --lr 0.005 --out "$RUN" --quiet
