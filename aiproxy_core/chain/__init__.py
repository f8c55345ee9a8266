"""Chains: resolving a rule's plugins once, and running them per request."""

from .compiled import EMPTY_CHAIN, ChainCompileError, CompiledChain, Step, chain_entries, compile_chain
from .executor import call_step, run_answering, run_chunk, run_post_response

__all__ = [
    "EMPTY_CHAIN",
    "ChainCompileError",
    "CompiledChain",
    "Step",
    "call_step",
    "chain_entries",
    "compile_chain",
    "run_answering",
    "run_chunk",
    "run_post_response",
]
