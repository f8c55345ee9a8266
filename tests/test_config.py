"""config.yaml in the seed's shape, environment overrides, and errors that name file and key."""

from __future__ import annotations

import pytest

from aiproxy_core import ConfigError, load_config

SEED = """
server:
  admin_port: 8080
  proxy_port: 8081
  base_domain: "example.com"
redis:
  host: "localhost"
  port: 6379
  password: ""
  db: 0
"""


def test_the_seed_config_loads(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(SEED)
    config = load_config(path, environ={})
    assert config.server.base_domain == "example.com" and config.server.admin_port == 8080
    assert config.redis is not None and config.redis.host == "localhost" and config.redis.db == 0


def test_without_redis_the_gateway_is_embedded_on_sqlite(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("server: {base_domain: example.com}\n")
    config = load_config(path, environ={})
    assert config.redis is None and config.storage.path == "./aiproxy.db"


def test_environment_overrides_keep_their_types(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(SEED)
    config = load_config(
        path, environ={"AIPROXY_SERVER__ADMIN_PORT": "9000", "AIPROXY_REDIS__PASSWORD": "pw", "AIPROXY_STORAGE__PATH": "/tmp/x.db"}
    )
    assert config.server.admin_port == 9000 and config.redis.password == "pw" and config.storage.path == "/tmp/x.db"


def test_env_can_turn_on_redis_without_a_file():
    config = load_config(None, environ={"AIPROXY_REDIS__HOST": "10.0.0.5"})
    assert config.redis is not None and config.redis.host == "10.0.0.5"


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("server: {admin_port: lots}\n", {}, "config.yaml: server.admin_port: Input should be a valid integer"),
        ("server: {admin_prot: 1}\n", {}, "server.admin_prot: unknown key"),
        ("server: [1, 2]\n", {}, "server: Input should be a valid dictionary"),
        ("- just a list\n", {}, "the top level must be a mapping"),
        ("server: {admin_port: 1\n", {}, "not valid YAML"),
        ("", {"AIPROXY_SERVER__PROXY_PORT": "99999"}, "environment variable AIPROXY_SERVER__PROXY_PORT: server.proxy_port"),
    ],
)
def test_errors_name_the_file_or_variable_and_the_key(tmp_path, text, environ, expected):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ=environ)
    assert expected in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read"):
        load_config(tmp_path / "nope.yaml", environ={})
