"""The HTTP API: the Flask app, who may call it, body validation, OpenAPI, its server process and a client.

Never imports: the supervisor (``labapp.cluster``), the notebook layer (``labapp.widgets``, ``plots``,
``lesson``, ``live``, ``checks``, ``bench``, ``classroom``, ``reveal``), the CLI or ``labapp.authoring``.
Nothing may import ``labapp.api.server`` (it runs as ``python -m labapp.api.server``), and this file stays
empty of imports so that ``-m`` finds the server module fresh.
"""
