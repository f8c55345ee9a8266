"""The prompt guard (after Kong's ai-prompt-guard): deny patterns refuse, allow patterns admit.

Patterns are searched (``re.search``) in each prompt text separately, so ``^`` and ``$`` anchor
to one message. Deny patterns are checked first and win. With allow patterns, *every* checked
text must match at least one of them: one allowed sentence early in a conversation must not
carry the rest through. Errors say where and which pattern (by index), never the matched text.
"""

from __future__ import annotations

from typing import Pattern, Sequence

from .refusals import refused_request

__all__ = ["guard_prompt"]


def guard_prompt(texts: Sequence[tuple[str, str]], allow: Sequence[Pattern[str]], deny: Sequence[Pattern[str]]) -> None:
    for where, text in texts:
        for index, pattern in enumerate(deny):
            if pattern.search(text):
                raise refused_request(
                    f"{where} matches a pattern this route denies",
                    "prompt_denied",
                    "deny_patterns",
                    where=where,
                    pattern_index=index,
                )
    if not allow:
        return
    checked = [(where, text) for where, text in texts if text]
    if not checked:
        # Nothing to match is not a match: an allow list admits only what it recognises.
        raise refused_request(
            "the request has no prompt text for this route's allow patterns to match",
            "prompt_not_allowed",
            "allow_patterns",
            where=None,
        )
    for where, text in checked:
        if not any(pattern.search(text) for pattern in allow):
            raise refused_request(
                f"{where} matches none of the patterns this route allows",
                "prompt_not_allowed",
                "allow_patterns",
                where=where,
            )
