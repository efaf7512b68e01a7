"""Run tracking: what one training run logs to MLflow (metrics, plots, model card)."""
