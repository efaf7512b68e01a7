"""The HTTP face of the service: routers, schemas, dependencies, auth, errors, metrics."""
