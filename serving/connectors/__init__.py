"""CRM connectors: leads in from a CRM's webhooks, scores written back to it.

One module per CRM behind the one interface of :mod:`serving.connectors.base`
(``amocrm``, ``bitrix24``, ``hubspot``, ``generic``); ``config`` reads the connector
settings file, ``statuses`` maps CRM statuses onto the funnel, ``hub`` builds the
configured connectors, ``intake`` is the durable job that turns a stored webhook event
into a stored, scored lead or a status change, and ``delivery`` is the outbox worker that
writes scores back. See docs/crm.md.
"""
