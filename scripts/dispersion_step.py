"""Rewrites fixtures/healthy.json into OUT with Poisson sessions/requests and binomial counts for one
metric: the canary converts (or errs) at AFTER x the base rate from minute START, and SPIKE
(env, side:start:len:factor,...) multiplies one side's rate for LEN minutes. Used by
scripts/dispersion_scenarios.sh (BENCHMARKS.md, "A pass widened by dispersion"); seed 3 with
SPIKE=baseline:15:2:0.3 wrote tests/data/dependence/estimate-beyond-margin.json.

    python3 scripts/dispersion_step.py SEED METRIC AFTER START OUT
"""
import json, os, sys

import numpy as np

seed=int(sys.argv[1]); metric=sys.argv[2]; after=float(sys.argv[3]); start_min=int(sys.argv[4]); out=sys.argv[5]
rng=np.random.default_rng(seed)
d=json.load(open('fixtures/healthy.json'))
for m,v in d['metrics'].items():
    if m!=metric: continue
    for side,s in v.items():
        den=s['queries']['denominator']['series'][0]['points']
        num=s['queries']['numerator']['series'][0]['points']
        base_rate = 0.30 if metric=='conversion' else 0.005
        for i,(p,q) in enumerate(zip(den,num)):
            n=rng.poisson(430 if metric=='conversion' else 2700)
            r=base_rate*(after if side=='canary' and i>=start_min else 1.0)
            for sp in filter(None, os.environ.get('SPIKE','').split(',')):
                sd,a0,ln,mu=sp.split(':')
                if sd==side and int(a0)<=i<int(a0)+int(ln): r*=float(mu)
            p[1]=float(n); q[1]=float(rng.binomial(n,min(r,1.0)))
json.dump(d,open(out,'w'))
