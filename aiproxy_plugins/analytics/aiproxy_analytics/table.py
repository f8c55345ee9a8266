"""An analytics answer as a plain-text table, for the CLI."""

from __future__ import annotations

from typing import Any

__all__ = ["analytics_table"]

_COLUMNS = ("group", "requests", "errors", "in_tok", "out_tok", "cost", "p50_ms", "p95_ms", "p99_ms", "ttft_p50", "ttft_p95")


def analytics_table(answer: dict[str, Any]) -> str:
    rows = [_COLUMNS]
    for group in answer["groups"]:
        name = ",".join(f"{k}={'-' if v is None else v}" for k, v in group["key"].items()) or "all"
        latency, ttft = group["latency_ms"], group["ttft_ms"]
        rows.append((name, str(group["requests"]), str(group["errors"]), str(group["input_tokens"]), str(group["output_tokens"]),
                     f"{group['cost']:.6f}", _ms(latency["p50"]), _ms(latency["p95"]), _ms(latency["p99"]),
                     _ms(ttft["p50"]), _ms(ttft["p95"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [f"{answer['interval']} buckets from {answer['from']} to {answer['to']}"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))))
    if len(rows) == 1:
        lines.append("(no requests in this range)")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
