"""The package's layout: features in their own packages, layered, with no cycles.

Layers, lowest first: ``core`` (configuration, extensions, errors, limits…), ``db`` (models,
connections, statements), ``articles``, then the features ``comments`` and ``shares``, then
``admin``, and last the modules that wire the whole app (``commentsvc/__init__.py``, ``cli``,
``startup``, ``openapi``). A module may import from its own layer and the layers below.
Imports inside functions count too: a lazy import must not hide a cycle.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "commentsvc"
LAYERS = {
    "core": 0,
    "db": 1,
    "articles": 2,
    "comments": 3,
    "shares": 3,
    "notify": 4,
    "transfer": 4,
    "admin": 5,
}
TOP = 6  # commentsvc/__init__.py, cli/, startup.py, openapi.py
# The features of one layer stay apart, except where one shows the other's numbers: the
# widget page shows the share bar.
ALLOWED_SIDEWAYS = {("comments", "shares")}
# The settings check COMMENTSVC_SHARE_NETWORKS against the table of share networks, a module
# of plain data that imports nothing of ours. The rate limits' counters send their upsert as
# a hot-path Statement, a module of SQLAlchemy helpers that imports nothing of ours either.
ALLOWED_UPWARDS = {
    ("commentsvc.core.config", "commentsvc.shares.networks"),
    ("commentsvc.core.window_counts", "commentsvc.db.statements"),
}
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "route"}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.relative_to(PACKAGE).parts:
            continue
        parts = ["commentsvc", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@cache
def imports_of(name: str) -> frozenset[str]:
    """The commentsvc modules ``name`` imports, anywhere in it."""
    known = modules()
    found = set()
    for node in ast.walk(ast.parse(known[name].read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("commentsvc"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("commentsvc"))
    return frozenset(m for m in found if m in known and m != name)


def is_view_module(name: str) -> bool:
    """Whether the module registers URL routes (``@bp.get(…)``, ``add_url_rule``)."""
    for node in ast.walk(ast.parse(modules()[name].read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    return True
        if isinstance(node, ast.Attribute) and node.attr == "add_url_rule":
            return True
    return False


def layer(name: str) -> tuple[int, str]:
    parts = name.split(".")
    feature = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""
    # The wiring on top (commentsvc/__init__.py, the cli package, startup, openapi) is one.
    return (LAYERS[feature], feature) if feature in LAYERS else (TOP, "")


def test_the_features_have_their_own_packages() -> None:
    for feature in LAYERS:
        assert (PACKAGE / feature / "__init__.py").is_file(), feature
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    # __main__.py: ``python -m commentsvc``, the command through whichever Python runs it.
    assert loose == ["__init__.py", "__main__.py", "openapi.py", "startup.py"]


def test_no_module_imports_from_a_higher_layer_or_a_sibling_feature() -> None:
    # Modules of ours that ALLOWED_UPWARDS lets a lower layer import: they import none of ours.
    for _, allowed in ALLOWED_UPWARDS:
        assert not imports_of(allowed)
    wrong = []
    for name in modules():
        level, feature = layer(name)
        for target in imports_of(name):
            target_level, target_feature = layer(target)
            sideways = target_level == level and target_feature != feature
            upwards = target_level > level and (name, target) not in ALLOWED_UPWARDS
            if upwards or (sideways and (feature, target_feature) not in ALLOWED_SIDEWAYS):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_no_view_module_imports_another() -> None:
    views = {name for name in modules() if is_view_module(name)}
    assert {"commentsvc.comments.widget_views", "commentsvc.shares.views"} <= views
    crossing = [f"{v} -> {t}" for v in sorted(views) for t in sorted(imports_of(v) & views)]
    assert crossing == []


def test_no_import_cycles() -> None:
    cycles = []
    for start in modules():
        # Every path from ``start``: a cycle is a path that comes back to it.
        stack = [(start, (start,))]
        seen = set()
        while stack:
            name, path = stack.pop()
            for target in imports_of(name):
                if target == start:
                    cycles.append(" -> ".join((*path, start)))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, (*path, target)))
    assert cycles == []
