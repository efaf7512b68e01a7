"""Monthly retraining: settled labels, the window, the gates, the cycle, its records, drift."""
