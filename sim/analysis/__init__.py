"""Analysis above single runs: summaries, sweeps, calibration, sensitivity, policy questions."""
