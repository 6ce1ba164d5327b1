"""The API described in OpenAPI 3.1, served at /openapi.json (tests keep it true to the routes)."""

from __future__ import annotations

from labapp.settings import Settings

STATES = ["PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED"]


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


# answers any route can give before its view runs (labapp.api.guards) or when the broker is away
COMMON = {
    "400": _error("bad input, or a Host header that is not served here"),
    "403": _error("a request from a foreign web page (Origin)"),
    "503": _error("the broker (Redis) is unavailable"),
}
BODY_ERRORS = {
    "413": _error("request body too large"),
    "415": _error("the body is not sent as application/json"),
}


def _one_field_body(field: str, schema: dict, example) -> dict:
    """A required JSON body of exactly one field."""
    body = {"type": "object", "properties": {field: schema}, "required": [field], "additionalProperties": False}
    return {"required": True, "content": {"application/json": {"schema": body, "example": {field: example}}}}


def _submit(summary: str, field: str, schema: dict, example) -> dict:
    return {
        "summary": summary,
        "requestBody": _one_field_body(field, schema, example),
        "responses": {
            "202": {
                "description": "queued; poll status_url",
                "headers": {"Location": {"description": "the task's status URL", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}},
            },
            **COMMON,
            **BODY_ERRORS,
        },
    }


def _task_id_parameter() -> dict:
    return {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


def document(settings: Settings) -> dict:
    """The OpenAPI document of an API with these settings (its limits are in the schemas)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flask + Celery Cluster Lab API",
            "version": "1",
            "description": "Submit tasks to Celery workers, poll their state. JSON in, JSON out.",
        },
        "paths": {
            "/longtask": {
                "post": _submit(
                    "x seconds of simulated work, reporting progress",
                    "x",
                    {"type": "number", "minimum": 0, "maximum": settings.longtask_max_x},
                    10,
                )
            },
            "/factorial": {
                "post": _submit(
                    "n! as a decimal string",
                    "n",
                    {"type": "integer", "minimum": 0, "maximum": settings.factorial_max_n},
                    20,
                )
            },
            "/blocking/factorial": {
                "post": {
                    "summary": "ANTI-PATTERN kept for lesson 01: n! computed inside the request, 200 when done",
                    "requestBody": _one_field_body(
                        "n", {"type": "integer", "minimum": 0, "maximum": settings.factorial_max_n}, 20
                    ),
                    "responses": {
                        "200": _json("Factorial", "n!, computed while the client waited"),
                        **COMMON,
                        **BODY_ERRORS,
                    },
                }
            },
            "/status/{task_id}": {
                "get": {
                    "summary": "a task's state, progress, result or error",
                    "parameters": [_task_id_parameter()],
                    "responses": {
                        "200": _json("Status", "the task's state"),
                        "404": _error("no task with this id was submitted here"),
                        **COMMON,
                    },
                }
            },
            "/tasks/{task_id}": {
                "delete": {
                    "summary": "cooperative cancel: the task ends REVOKED at its next check",
                    "parameters": [_task_id_parameter()],
                    "responses": {
                        "202": _json("CancelRequested", "the cancel flag is up"),
                        "404": _error(
                            "no task with this id was submitted here (the API cancels its own tasks; "
                            "`labapp cancel ID` terminates any task on the lab's workers)"
                        ),
                        "409": _json("AlreadyFinished", "the task already finished"),
                        **COMMON,
                    },
                }
            },
            "/workers": {
                "get": {
                    "summary": "the live workers (fresh heartbeat)",
                    "responses": {"200": _json("Workers", "live workers"), **COMMON},
                }
            },
            "/health": {
                "get": {
                    "summary": "broker and worker health",
                    "responses": {
                        "200": _json("Health", "broker up (status degraded: no worker)"),
                        "400": COMMON["400"],
                        "403": COMMON["403"],
                        "503": _json("Unavailable", "the broker is down"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": COMMON["400"],
                        "403": COMMON["403"],
                    },
                }
            },
        },
        "components": {"schemas": _schemas()},
    }


def _schemas() -> dict:
    string, integer = {"type": "string"}, {"type": "integer"}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": string}},
        "Submitted": {
            "type": "object",
            "required": ["task_id", "status_url"],
            "additionalProperties": False,
            "properties": {"task_id": string, "status_url": string},
        },
        "Status": {
            "type": "object",
            "required": ["task_id", "name", "state"],
            "additionalProperties": False,
            "properties": {
                "task_id": string,
                "name": string,
                "state": {"enum": STATES},
                "progress": {"type": "object", "properties": {"current": integer, "total": integer}},
                "result": {},
                "error": string,
                "worker": string,
                "worker_alive": {"type": "boolean"},
                "cancel_requested": {"type": "boolean"},
                # present when the task finished more than once (a redelivered copy and the original both
                # ran to the end); the result shown is the first one's
                "completions": {"type": "integer", "minimum": 2},
            },
        },
        "Factorial": {
            "type": "object",
            "required": ["n", "digits", "value", "seconds"],
            "additionalProperties": False,
            "properties": {"n": integer, "digits": integer, "value": string, "seconds": {"type": "number"}},
        },
        "CancelRequested": {
            "type": "object",
            "required": ["task_id", "state", "cancel_requested", "status_url"],
            "properties": {
                "task_id": string,
                "state": {"enum": STATES},
                "cancel_requested": {"const": True},
                "status_url": string,
            },
        },
        "AlreadyFinished": {
            "type": "object",
            "required": ["error", "task_id", "state"],
            "properties": {"error": string, "task_id": string, "state": {"enum": ["SUCCESS", "FAILURE", "REVOKED"]}},
        },
        "Workers": {
            "type": "object",
            "required": ["count", "workers"],
            "properties": {
                "count": integer,
                "workers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "pid"],
                        "properties": {
                            "name": string,
                            "pid": integer,
                            "active": {"type": "array"},
                            "processed": integer,
                        },
                    },
                },
                "other_apps": {
                    "description": "another app's workers on this broker's database 1 (labapp env); never the lab's",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "app", "tasks"],
                        "properties": {
                            "name": string,
                            "app": {"enum": ["another app's"]},
                            "tasks": {"type": "array", "items": string},
                        },
                    },
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "broker", "workers", "queued"],
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "broker": {"const": "ok"},
                "workers": integer,
                "worker_names": {"type": "array", "items": string},
                "queued": integer,
            },
        },
        "Unavailable": {
            "type": "object",
            "required": ["error"],
            "properties": {"status": {"const": "unavailable"}, "broker": {"const": "down"}, "error": string},
        },
    }
