"""Monthly retraining, one module per concept: config, labels, settle, window, challenger,
gates, drift, report, records, and the cycle that runs them."""
