async def test_harness_chat(aiproxy_gateway_factory, backend):
    gw = await aiproxy_gateway_factory(redis=backend)
    r = await gw.chat("hi")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "You said: hi"
