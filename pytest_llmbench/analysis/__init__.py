"""What the results mean: latency statistics, repeats, verdict metrics, cost, generic
answers, suspect gold, notes, regression against a baseline, and the ranking.

Pure: no network call, no provider implementation, no pytest."""
