"""Builders and helpers shared by the test suites (no tests, no fixtures).

Every suite imports what it shares from here, never from another test module or a
conftest: a test module can then be moved, renamed or run alone without breaking
another. Fixtures stay in the conftest files; they build on these modules.

- ``directories``    the repository root, the reference and demo directories
- ``builders``       request bodies and envelopes (alerts, state changes)
- ``notifications``  ``notification.requested`` payloads (version 1 and 2)
- ``database``       ``Database``: a migrated database of one test; ``Templates``
- ``broker``         ``tapped``: a queue of the test's own on ``coord.events``
- ``outbox``         what an outbox carries, as events (``router.decisions`` unpacked)
- ``pump``           the broker's work done in-process (outboxes to handlers)
- ``ingest_client``  an HTTP client on ingest's app in-process
- ``tokens``         the ingest API tests' JWT secret and bearer header
- ``notifier``       the notifier's requests, records and broker wiring
- ``event_log``      a sample event log and raw-SQL access to it
- ``cli``            the ``coord`` command line as a subprocess
- ``scenario``       the three services on one bus (in memory or RabbitMQ), settled
- ``receiver``       the webhook receiver (the officers' phones) and the signature check
"""
