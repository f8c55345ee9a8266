"""Starts a private 3-master Redis Cluster (the SDK's, on free loopback ports) for a benchmark,
writes its node ports to the file named on the command line, and keeps it up until SIGTERM.

Usage: python bench/private_cluster.py PORTS_FILE
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from aiproxy_sdk.private_cluster import PrivateCluster


def main() -> None:
    cluster = PrivateCluster().start()

    def stop(*_: object) -> None:
        cluster.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    Path(sys.argv[1]).write_text(" ".join(str(node.port) for node in cluster.nodes) + "\n")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
