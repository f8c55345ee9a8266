import prompt_length_guard


async def test_long_prompts_are_refused(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(
        plugins={"prompt_length_guard": prompt_length_guard},
        chain=[{"name": "prompt_length_guard", "settings": {"max_chars": 5}}],
    )
    assert (await gw.chat("hi")).status_code == 200
    refused = await gw.chat("far too long")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "prompt_too_long"


async def test_bad_settings_are_refused_when_the_rule_is_saved(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"prompt_length_guard": prompt_length_guard})
    response = await gw.admin.put(
        f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}",
        headers=gw.tenant_auth,
        json={"path": "/v1", "target": "http://127.0.0.1:9", "plugin_chain": [{"name": "prompt_length_guard", "settings": {"max_chars": 0}}]},
    )
    assert response.status_code == 422
    assert "settings.max_chars" in response.json()["error"]["message"]


async def test_bodies_of_the_wrong_shape_are_400_not_500(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(
        plugins={"prompt_length_guard": prompt_length_guard},
        chain=[{"name": "prompt_length_guard", "settings": {"max_chars": 5}}],
    )
    for body in ([{"role": "user", "content": "hi"}], {"messages": ["not an object"]}, {"messages": "hi"}):
        refused = await gw.proxy.post("/v1/chat/completions", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
