#!/usr/bin/env bash
# Bring your own QNN, end to end: train in PennyLane and in Qiskit, import into qaudit (verified to 1e-8
# against the framework), audit. Needs the extras:
#   pip install "torch==2.13.0" && pip install -e "../..[pennylane,qiskit]"
set -euo pipefail
cd "$(dirname "$0")"

# PennyLane: AngleEmbedding + StronglyEntanglingLayers in a torch module with a Linear head (digits 0-3).
python pennylane_classifier.py
qaudit import pennylane pennylane_classifier.py:model --weights pennylane_weights.pt \
    --dataset digits4.npz --members members.txt --out pennylane_model.json --force
qaudit leak pennylane_model.json || [ $? -eq 1 ]                  # exit 1 = a threshold breached
qaudit leak pennylane_model.json -a lira -K 8 || [ $? -eq 1 ]     # reference QNNs trained by qaudit's engine

# PennyLane with classical layers before the circuit (Linear + Tanh -> AngleEmbedding), trained with Adam;
# the import states the same recipe, so qaudit's reference models (encoder included) are trained alike.
python pennylane_encoder.py
qaudit import pennylane pennylane_encoder.py:model --weights encoder_weights.pt \
    --dataset digits8.npz --members encoder_members.txt --out encoder_model.json --force \
    --optimizer adam --lr 0.05 --epochs 15 --batch-size 32
qaudit leak encoder_model.json -a lira -K 8 || [ $? -eq 1 ]

# Qiskit ML: ZZFeatureMap + RealAmplitudes EstimatorQNN (digits 0 and 1), saved as QPY.
python qiskit_classifier.py
qaudit import qiskit qiskit_circuit.qpy --input-params x --weight-params θ --weights qiskit_weights.npy \
    --observables ZZII,IIZZ --dataset qiskit_data.npz --members qiskit_members.txt \
    --out qiskit_model.json --force
qaudit leak qiskit_model.json || [ $? -eq 1 ]
