"""The `leadscore` command line: one module per verb group, composed in ``main``."""
