"""The engine: what runs a cluster behind ``Cluster`` (broker, Celery configuration, processes, workers' code).

Lives here: the embedded broker, the Celery configuration, child processes and their logs, worker
heartbeats, the runtime folder and the registry of running clusters, students' code loaded into the
cluster, Flower, the classroom's protocol and a student machine that joins a classroom.

Never imports: the notebook layer (``labapp.widgets``, ``plots``, ``lesson``, ``live``, ``checks``,
``bench``, ``classroom``, ``reveal``), the CLI, ``labapp.authoring``, or the API server process
(``labapp.api.server``). The engine serves the layers above it; it does not know them.
"""
