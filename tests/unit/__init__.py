"""Unit tests: no process, no socket, no kernel; the whole layer runs in seconds (`make test-fast`)."""
