#!/usr/bin/env python3
"""What one variant of a command adds to its start, measured in pairs.

    paired_delta.py PAIRS WARMUP BASE_COMMAND VARIANT_COMMAND

Runs BASE and VARIANT alternately PAIRS times (after WARMUP pairs), each timed from spawn to exit
with the monotonic clock, and prints, as JSON, the medians of each and the median of the paired
differences (variant - base) with a 95% confidence interval of that median (order statistics of
the sign test). Alternating puts both commands under the same drift of a shared machine, which a
table of separate runs (hyperfine's) does not: there two medians taken minutes apart can differ by
more than the sub-millisecond costs being asked about. The commands are split on spaces (no shell)
and their output goes to /dev/null.
"""
import json
import math
import os
import statistics
import sys
import time


def timed(argv, devnull):
    start = time.monotonic_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    elapsed = (time.monotonic_ns() - start) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"paired_delta.py: {' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed


def median_interval(values):
    """The ranks k and n-1-k around the median that hold it with 95% confidence (binomial, normal
    approximation), as the values at those ranks."""
    ordered = sorted(values)
    n = len(ordered)
    k = max(0, math.floor((n - 1.96 * math.sqrt(n)) / 2) - 1)
    return ordered[k], ordered[n - 1 - k]


def main():
    pairs, warmup = int(sys.argv[1]), int(sys.argv[2])
    base, variant = sys.argv[3].split(), sys.argv[4].split()
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(warmup):
        timed(base, devnull)
        timed(variant, devnull)
    base_times, variant_times = [], []
    for i in range(pairs):
        # Which goes first alternates too, so that neither always follows the other.
        if i % 2:
            variant_times.append(timed(variant, devnull))
            base_times.append(timed(base, devnull))
        else:
            base_times.append(timed(base, devnull))
            variant_times.append(timed(variant, devnull))
    differences = [v - b for b, v in zip(base_times, variant_times)]
    low, high = median_interval(differences)
    json.dump({"pairs": pairs, "base_median_ms": statistics.median(base_times),
               "variant_median_ms": statistics.median(variant_times),
               "difference_median_ms": statistics.median(differences),
               "difference_95_ms": [low, high]}, sys.stdout)
    print()


main()
