"""Read YAML text as plain data, refusing what could hide or exhaust something.

On top of ``yaml.SafeLoader`` (no tags that build objects):

* a key written twice in one mapping is an error naming the key and both lines (YAML would
  silently keep the last value and drop the earlier one);
* nesting deeper than :data:`~sim.scenario.limits.MAX_YAML_DEPTH` levels, more than
  :data:`~sim.scenario.limits.MAX_YAML_ALIASES` aliases, a recursive alias, or more than
  :data:`~sim.scenario.limits.MAX_YAML_NODES` nodes once aliases are expanded (an "alias bomb")
  is refused while the document is composed, before any value is built;
* text longer than :data:`~sim.scenario.limits.MAX_FILE_BYTES` is refused before parsing.

Problems are raised as :class:`YamlProblem` with the line, so callers can name the file.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.scenario import limits

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(ValueError):
    """Text that is not acceptable YAML (syntax error, duplicate key, a limit exceeded).

    Attributes:
        where: ``line L, column C`` or ``(file)``.
        message: What is wrong (one line).
    """

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


def _where(node_or_mark: Any) -> str:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    if mark is None:
        return "(file)"
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _Loader(yaml.SafeLoader):
    """SafeLoader with duplicate-key detection and depth/alias limits while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > limits.MAX_YAML_ALIASES:
                raise YamlProblem(_where(self.peek_event()),
                                  f"more than {limits.MAX_YAML_ALIASES} aliases (*name)")
        self._depth += 1
        try:
            if self._depth > limits.MAX_YAML_DEPTH:
                raise YamlProblem(_where(self.peek_event()),
                                  f"nested more than {limits.MAX_YAML_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:  # type: ignore[override]
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], ScalarNode] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                first = seen[key].start_mark.line + 1
                shown = key_node.value if len(key_node.value) <= 60 else key_node.value[:57] + "..."
                raise YamlProblem(
                    _where(key_node),
                    f"key {shown!r} is written twice (line {first} and line "
                    f"{key_node.start_mark.line + 1}); YAML would keep only the last value",
                )
            seen[key] = key_node
        return node


def _expanded_size(node: Node) -> int:
    """Nodes of the document with every alias expanded; stops as soon as the limit is passed."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlProblem(_where(n), "an alias refers to the value that contains it")
        active.add(key)
        total = 1
        if isinstance(n, SequenceNode):
            children = n.value
        elif isinstance(n, MappingNode):
            children = [c for pair in n.value for c in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limits.MAX_YAML_NODES:
                raise YamlProblem(_where(n), f"more than {limits.MAX_YAML_NODES:,} values once "
                                             "aliases are expanded")
        active.discard(key)
        sizes[key] = total
        return total

    return size(node)


def load_yaml(text: str) -> Any:
    """Parse one YAML document into plain Python data (dict, list, str, int, float, bool, None).

    Args:
        text: The YAML text.

    Returns:
        The data (None for an empty document).

    Raises:
        YamlProblem: Invalid YAML, a duplicate key or a limit exceeded (see the module docstring).
    """
    if len(text) > limits.MAX_FILE_BYTES:
        raise YamlProblem("(file)", f"the text is {len(text):,} characters long, more than the "
                                    f"{limits.MAX_FILE_BYTES:,} allowed")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        raise YamlProblem(_where(mark), " ".join(detail.split())) from exc
    except YamlProblem:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise YamlProblem("(file)", f"invalid value: {' '.join(str(exc).split())[:200]}") from exc
    finally:
        loader.dispose()
