"""Classrooms: other machines joining an instructor's cluster, on loopback and in network namespaces."""
