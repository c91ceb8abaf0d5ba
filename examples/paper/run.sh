#!/usr/bin/env sh
# Reproduce arXiv 2509.06086 ("From Membership-Privacy Leakage to Quantum Machine Unlearning") with qaudit.
# Needs the MNIST test set IDX files (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in MNIST_DIR.
# Writes OUT_DIR/report.md, report.html, report.json and the trained model files (about 8 minutes on 2 cores).
set -eu
DATA=${1:?usage: examples/paper/run.sh MNIST_DIR [OUT_DIR]}
OUT=${2:-paper-reproduction}
qaudit reproduce --data-dir "$DATA" --out-dir "$OUT"

# The same stages as separate commands on the models written above (for exploring one stage further;
# the CLI defaults differ slightly -- e.g. 1000 bootstrap resamples instead of 200, oracle cached --
# so the numbers match the report's closely, not digit for digit):
#   qaudit leak "$OUT/basic-qnn.json" --attack gray-box,loss --forget-class 4 --data-dir "$DATA"
#   qaudit compare-unlearning "$OUT/basic-qnn.json" --methods ga,ssd,rga,retrain --forget-class 4 --data-dir "$DATA"
#   qaudit shots "$OUT/basic-qnn.json" --shots 16,256,4096,exact --repeats 3 --forget-class 4 --unlearn ga \
#       --data-dir "$DATA" -f html -o "$OUT/shots.html"
#   qaudit leak "$OUT/basic-qnn.json" --backend noisy:paper --attack gray-box --forget-class 4 --data-dir "$DATA"
