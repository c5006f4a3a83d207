#!/usr/bin/env bash
# Regenerate the small trained Fashion-MNIST blobs the backend tests run on the whole test set.
#   bash tests/data/make_blobs.sh        (about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.venv/bin/binedge
R=${RUNS:-runs/testdata}
rm -rf "$R"
$B train --model mlp --weights lab --activation sign --hidden 128 --depth 2 --epochs 4 --lr 0.005 --seed 1 -o "$R/mlp-sign" --quiet --threads 1
$B train --model vgg --weights lab --activation qrelu2 --widths 8,16,32 --fc 64 --epochs 3 --lr 0.005 --seed 1 -o "$R/vgg-qrelu2" --quiet --threads 1
$B train --model vgg --weights lab --activation sign --widths 8,16,32 --fc 64 --epochs 3 --lr 0.005 --seed 1 -o "$R/vgg-sign" --quiet --threads 1
for name in mlp-sign vgg-qrelu2 vgg-sign; do
  $B export "$R/$name" --format blob -o "$R/$name-export"
  cp "$R/$name-export/model.bnm" "tests/data/fmnist-$name.bnm"
  cp "$R/$name-export/report.json" "tests/data/fmnist-$name.report.json"
done
