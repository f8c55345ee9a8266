"""aiproxy SDK: test your plugin against a real in-process gateway in a few lines.

    async def test_my_plugin(aiproxy_gateway_factory):
        gw = await aiproxy_gateway_factory(plugins={"shout": shout}, chain=[{"name": "shout"}])
        response = await gw.chat("hello")
        assert response.json()["choices"][0]["message"]["content"].isupper()
"""

from .harness import GatewayHarness
from .live import LiveGateway, ServerThread
from .processes import GatewayProcess, free_port, free_ports, run_aiproxy

__all__ = ["GatewayHarness", "GatewayProcess", "LiveGateway", "ServerThread", "free_port", "free_ports", "run_aiproxy"]
