"""The settings of a ``rag`` chain entry, validated when the rule is saved."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_TEMPLATE", "RagSettings"]

DEFAULT_TEMPLATE = (
    "Answer the user's question using the context below when it is relevant. "
    "If the context does not contain the answer, say so rather than guessing.\n\n"
    "Context:\n{context}"
)


class RagSettings(BaseModel):
    """``{"knowledge_base": "kb_...", "top_k": 3, "min_score": 0.3, "template": "...", "as": "system"}``"""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    knowledge_base: str = Field(pattern=r"^kb_[0-9a-f]{16}$", description="id of one of the tenant's knowledge bases")
    top_k: int = Field(default=3, ge=1, le=20)
    min_score: float = Field(default=0.3, ge=-1.0, le=1.0, description="cosine similarity a chunk needs to be used")
    template: str = Field(default=DEFAULT_TEMPLATE, min_length=1, max_length=20_000)
    as_: Literal["system", "user"] = Field(default="system", alias="as")

    @field_validator("template")
    @classmethod
    def _template_has_context(cls, value: str) -> str:
        # Substituted with str.replace, not str.format: braces elsewhere in a template (JSON
        # examples) must not break it, and only the two known placeholders mean anything.
        if "{context}" not in value:
            raise ValueError("must contain the placeholder {context}")
        unknown = set(re.findall(r"\{([a-z_]+)\}", value)) - {"context", "question"}
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {{context}} and {{question}}")
        return value
