#!/usr/bin/env python3
"""The SciPy side of bench/compare.sh: load both files with numpy, run the U test, print U and p."""
import sys
import numpy as np
from scipy.stats import mannwhitneyu

baseline = np.loadtxt(sys.argv[1])
canary = np.loadtxt(sys.argv[2])
result = mannwhitneyu(canary, baseline)
print(result.statistic, result.pvalue)
