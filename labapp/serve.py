"""Entry point of the API process: ``python -m labapp.serve --port P`` (waitress, never debug)."""

from __future__ import annotations

import argparse
import logging

from waitress import serve

from . import procs
from .api import create_app


def main(argv: list[str] | None = None) -> None:
    """Serve the API on host:port until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    procs.watch_parent()
    serve(create_app(), host=args.host, port=args.port, threads=args.threads,
          ident="labapp", clear_untrusted_proxy_headers=True)


if __name__ == "__main__":
    main()
