"""The ``gen_ai_request_model`` label: a bounded name, since the client writes the body.

A client may send any ``model`` string; labelling series by it would let one consumer create
series without end (and a scrape that never finishes). So a request's model becomes:

* the price table's name that prices it (``gpt-4o`` for ``openai/GPT-4o-2024-08-06``; the tenant's
  own ``model_prices`` included), a set the operator and tenant control;
* else the name itself if one of the rule's targets names it (``targets[].model``);
* else ``other``; and ``""`` when the body names no model (or is not JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..models import Rule
    from ..routing import RequestCost

__all__ = ["ModelLabels"]

OTHER = "other"


class ModelLabels:
    def __init__(self, cost: RequestCost) -> None:
        self._cost = cost
        #: rule id -> (the rule object, the models its targets name); an edited rule is a new object.
        self._rule_models: dict[str, tuple[Rule, frozenset[str]]] = {}

    def of(self, ctx: RequestContext) -> str:
        model = ctx.request.model
        if model is None:
            return ""
        priced = self._cost.table(ctx.tenant).priced_name(model)
        if priced is not None:
            return priced
        return model if model in self._named_by(ctx.rule) else OTHER

    def _named_by(self, rule: Rule) -> frozenset[str]:
        kept = self._rule_models.get(rule.id)
        if kept is not None and kept[0] is rule:
            return kept[1]
        names = frozenset(target.model for target in rule.targets or () if target.model)
        if len(self._rule_models) > 10_000:
            self._rule_models.clear()
        self._rule_models[rule.id] = (rule, names)
        return names
