"""Authoring: solution regions, exercises generated from solutions, the student pack, the reveal store.

For the instructor and whoever maintains the exercises; students meet it only through ``labapp.reveal``.
Never imports: the supervisor (``labapp.cluster``), the engine, the API, the notebook layer or the CLI.
"""
