"""Peer for the A/B endpoint benchmark: the same statistics adforge's /api/analytics/abtest
answers for one control and two variants, computed in process with scipy and statsmodels
(no HTTP, so an upper bound for a Python service). Prints calls per second.
Usage: peer_abtest_scipy.py SECONDS
"""

import sys
import time

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

control = (480, 12000)
variants = [(552, 12050), (500, 11980)]


def one_request():
    out = []
    ps = []
    for conv, users in variants:
        z, p = proportions_ztest([conv, control[0]], [users, control[1]])
        ps.append(p)
        table = [[conv, users - conv], [control[0], control[1] - control[0]]]
        chi = stats.chi2_contingency(table, correction=True)
        fisher = stats.fisher_exact(table)
        wilson = proportion_confint(conv, users, alpha=0.05, method="wilson")
        newcombe = confint_proportions_2indep(conv, users, control[0], control[1], method="newcomb")
        a = stats.beta(1 + conv, 1 + users - conv)
        b = stats.beta(1 + control[0], 1 + control[1] - control[0])
        # P(variant > control) by numerical integration (scipy has no closed form helper)
        x = np.linspace(0, 0.1, 4001)
        beat = np.trapezoid(a.pdf(x) * b.cdf(x), x)
        interval = a.interval(0.95)
        out.append((z, p, chi, fisher, wilson, newcombe, 1 - beat, interval))
    srm = stats.chisquare([control[1]] + [u for _, u in variants])
    holm = multipletests(ps, method="holm")
    bh = multipletests(ps, method="fdr_bh")
    return out, srm, holm, bh


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    one_request()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        one_request()
        n += 1
    elapsed = time.perf_counter() - start
    print(f"scipy/statsmodels in process: {n} requests in {elapsed:.1f} s = {n / elapsed:.1f} requests/s")


if __name__ == "__main__":
    main()
