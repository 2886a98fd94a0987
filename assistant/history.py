"""A conversation's earlier turns as the pipeline takes them, and the parser for what API callers send."""

import json

from assistant.errors import AssistantError

History = list[tuple[str, str]]  # (question, answer) pairs, oldest first


def parse_history(history: object) -> History:
    """JSON text or a list, of [question, answer] pairs or {"role", "content"} messages; anything else is one line."""
    if history in (None, "", [], {}):
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except ValueError:
            raise AssistantError("history: expected JSON, a list of [question, answer] pairs") from None
    if not isinstance(history, list):
        raise AssistantError("history: expected a list of [question, answer] pairs")
    pairs, question = [], None
    for item in history:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
        elif isinstance(item, dict) and item.get("role") in ("user", "assistant"):
            if item["role"] == "user":
                question = str(item.get("content", ""))
            elif question is not None:
                pairs.append((question, str(item.get("content", ""))))
                question = None
        else:
            raise AssistantError("history: each item must be a [question, answer] pair or a {role, content} message")
    return pairs
