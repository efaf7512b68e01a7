"""Fixtures of the API tests that post CRM webhooks: the CRM app of tests/serving/connectors
(its connectors file, stand-in CRM, settings and client), shared rather than imported by
each test module."""

from tests.serving.connectors.conftest import (  # noqa: F401 (fixtures, found by name)
    connectors_file,
    crm,
    crm_client,
    crm_settings,
    standin,
)
