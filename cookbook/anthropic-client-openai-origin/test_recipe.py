"""Runs anthropic_client.py as its README says: the official anthropic SDK against the gateway."""

from pathlib import Path

from recipe_support import lines_starting, run_script


def test_the_anthropic_sdk_is_served_by_an_openai_format_origin():
    done = run_script(Path(__file__).parent / "anthropic_client.py", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert lines_starting(out, "served by") == ["origin as gpt-4o-mini"]
    assert lines_starting(out, "answer")[0].startswith("'You said: What is a gateway?' (stop_reason end_turn, ")
    assert lines_starting(out, "streamed")[0].endswith("'You said: Stream this please' (stop_reason end_turn)")
    assert lines_starting(out, "tool_use") == ["get_weather({'query': 'Weather in Paris?'}) (stop_reason tool_use)"]
    assert lines_starting(out, "after the tool")[0].endswith("(stop_reason end_turn)")
    assert lines_starting(out, "error")[0].startswith("BadRequestError 400: invalid_request_error")
