"""The binary BayNNs on the Python side: PyTorch layers (bnn), datasets, metrics, the counter-based
RNG shared with the simulator, ONNX export/import, training (train) and parity checks (parity).
Run the scripts as modules from the repository root: `/usr/bin/python3 -m models.train ...`."""
