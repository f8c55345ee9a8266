"""Chains: resolving a rule's plugins once, and running them per request."""

from .compiled import EMPTY_CHAIN, ChainCompileError, CompiledChain, Step, chain_entries, compile_chain, compile_rule_chain
from .entry_ref import EntryRef
from .executor import call_step, run_answering, run_chunk, run_post_response, run_post_response_now

__all__ = [
    "EMPTY_CHAIN",
    "ChainCompileError",
    "CompiledChain",
    "EntryRef",
    "Step",
    "call_step",
    "chain_entries",
    "compile_chain",
    "compile_rule_chain",
    "run_answering",
    "run_chunk",
    "run_post_response",
    "run_post_response_now",
]
