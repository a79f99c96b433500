#!/usr/bin/env python3
"""Write two files of SIZE log-normal latencies (canary 2% slower), one value per line."""
import sys
import numpy as np

size, baseline_path, canary_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = np.random.default_rng(1)
np.savetxt(baseline_path, rng.lognormal(3.0, 0.5, size), fmt="%.17g")
np.savetxt(canary_path, rng.lognormal(3.02, 0.5, size), fmt="%.17g")
