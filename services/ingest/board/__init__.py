"""The board: the web app of the JOC, the officers and the auditors, served by ingest.

Server-rendered pages (Jinja2) over the same service functions and queries as the JSON
API, so the permissions table and need-to-know apply identically; English and French.
"""
