"""Dataset benchmarks (`codec-arena bench`): DATA → clips → (clip, operating point) jobs → an executor
(serial, a process pool, or Ray actors that each hold one model) → rows committed one by one to a
results store → aggregates and exports → the Leaderboard tab.

Long runs live in the CLI; the app only reads their results.
"""
