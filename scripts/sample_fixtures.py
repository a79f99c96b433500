#!/usr/bin/env python3
"""Regenerate fixtures/samples/ (request latencies of two builds) for the README's compare example."""
import numpy as np

rng = np.random.default_rng(7)

def write(path, header, values):
    with open(path, "w") as f:
        f.write(header)
        for v in values:
            f.write(f"{v:.3f}\n")

write("fixtures/samples/latency-v1.txt", "# request latency (ms) of build v1, 400 requests\n", rng.lognormal(np.log(120), 0.35, 400))
write("fixtures/samples/latency-v1-rerun.txt", "# request latency (ms) of build v1 again, 400 requests\n", rng.lognormal(np.log(120), 0.35, 400))
write("fixtures/samples/latency-v2.txt", "# request latency (ms) of build v2 (about 15% slower), 400 requests\n", rng.lognormal(np.log(138), 0.35, 400))
