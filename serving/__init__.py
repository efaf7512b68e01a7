"""The scoring service: FastAPI app, lead store, SDR queue, and the `leadscore` CLI."""
