"""The OpenAPI document's own shape (no process)."""

from labapp.api.app import create_app
from labapp.api.openapi import document
from labapp.settings import Settings


def flask_routes(app) -> dict[str, set[str]]:
    """Path (OpenAPI style) -> methods, from the app's url_map (HEAD/OPTIONS are automatic)."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_the_document_names_every_route_and_method_of_the_app():
    app = create_app(Settings(broker_url="redis://127.0.0.1:1/0"))  # not contacted
    documented = {path: set(ops) for path, ops in document(Settings()).get("paths").items()}
    assert flask_routes(app) == documented
