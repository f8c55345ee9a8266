"""Runs moderation_and_pii.py as its README says: redaction, restoring, and two kinds of refusal."""

from pathlib import Path

import pytest

from recipe_support import lines_starting, run_script


@pytest.mark.slow  # loads the harassment model (alt-profanity-check), like the plugin's own model tests
def test_pii_is_redacted_and_abuse_and_injections_are_refused():
    done = run_script(Path(__file__).parent / "moderation_and_pii.py", timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert lines_starting(out, "the upstream answered") == [
        "You said: I am [EMAIL_1], card [CARD_1], phone [PHONE_1]. Where is my order?"]
    assert lines_starting(out, "the client got") == [
        "You said: I am alice@example.com, card 4111 1111 1111 1111, phone +44 20 7946 0958. Where is my order?"]
    assert lines_starting(out, "blocked")[0].startswith("400 content_flagged: ")
    assert "['harassment']" in lines_starting(out, "blocked")[0]
    assert lines_starting(out, "refused")[0].startswith("400 prompt_denied: ")
