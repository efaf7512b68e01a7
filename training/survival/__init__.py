"""Time to conversion: lead x period rows with censoring (``expand``), the discrete-time
hazard model (``hazard``), per-horizon probabilities and their calibration (``horizons``),
and the survival measures (``metrics``). See docs/training.md, "Time to conversion"."""
