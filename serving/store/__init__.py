"""The lead store: tables, migrations, the Store and the outcomes read for retraining."""
