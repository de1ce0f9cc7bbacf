"""A course's structure, from an edX research data package's course-structure JSON, into `course_blocks`.

The file maps each block id to its `category` (course, chapter, sequential, vertical, video, problem, …),
its `metadata` (`display_name`) and its `children` (block ids, in order). Blocks are numbered in the order
a learner meets them — the course block first, then depth-first through the children — so that reports
can list videos, problems and sections in course order, by name. Importing a structure again replaces
each block's document; optional: everything works without one.
"""

from __future__ import annotations

from typing import Any

import orjson

from footfall.schemas import COURSE_BLOCKS
from footfall.stores import Store


class StructureError(ValueError):
    """The file is not a course structure; the message says why."""


def blocks(structure: Any, course_id: str | None = None) -> list[dict[str, Any]]:
    """The `course_blocks` documents of a structure (course id from the course block, unless given)."""
    if not isinstance(structure, dict) or not all(isinstance(v, dict) for v in structure.values()):
        raise StructureError("expected an object of block id → {category, metadata, children}")
    roots = [b for b, v in structure.items() if v.get("category") == "course"]
    if len(roots) != 1:
        raise StructureError(f"expected one block of category 'course', found {len(roots)}")
    course = course_id or _course_of(roots[0])
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    stack: list[tuple[str, str | None]] = [(roots[0], None)]
    while stack:
        block, parent = stack.pop()
        if block in seen or block not in structure:
            continue
        seen.add(block)
        node = structure[block]
        children = [c for c in node.get("children") or [] if isinstance(c, str)]
        name = (node.get("metadata") or {}).get("display_name")
        doc = {"_id": f"{course} {block}", "type": "block", "course_id": course, "block_id": block,
               "category": str(node.get("category") or "unknown")[:64], "position": len(out), "children": children,
               "name": name[:1024] if isinstance(name, str) else None, "parent": parent}
        out.append({k: v for k, v in doc.items() if v is not None})
        stack.extend((child, block) for child in reversed(children))
    return out


def _course_of(block: str) -> str:
    """block-v1:Org+Course+Run+type@course+block@course → course-v1:Org+Course+Run; i4x://Org/Course/course/Run
    → Org/Course/Run."""
    if block.startswith("block-v1:"):
        return "course-v1:" + block.removeprefix("block-v1:").split("+type@", 1)[0]
    if block.startswith("i4x://"):
        org, number, _, run = [*block.removeprefix("i4x://").split("/"), "", "", "", ""][:4]
        return f"{org}/{number}/{run}"
    return block


def load(store: Store, text: bytes, course_id: str | None = None) -> list[dict[str, Any]]:
    try:
        structure = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StructureError(f"not JSON: {exc}") from None
    docs = blocks(structure, course_id)
    store.upsert(COURSE_BLOCKS.collection, docs)
    return docs
