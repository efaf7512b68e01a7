"""Lead domain model, dataset specs and the feature pipeline shared by training and serving."""
