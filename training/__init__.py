"""Model training: calibrated LightGBM models, baselines, MLflow tracking and registry."""
