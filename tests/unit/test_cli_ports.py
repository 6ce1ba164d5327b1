"""The CLI's port arguments, checked by the parser (no process)."""

import pytest

from labapp import Cluster


@pytest.mark.parametrize("port", [99999, 0, 65536, True, "8000"])
def test_a_cluster_refuses_a_port_outside_1_to_65535(port):
    with pytest.raises(ValueError, match="api_port must be a TCP port from 1 to 65535"):
        Cluster(workers=0, api_port=port)
