"""One way to look objects up, one way to report errors: guards that read the source.

View and API modules take tenant objects from `projects.tenancy.access` (or walk relations of an object it gave
them); they never query a tenant model themselves, so no view can forget the workspace. Services and
selectors raise `core.errors` domain errors, never an interface's exceptions.
"""

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
APPS = ("projects", "labeling", "review", "exports")
INTERFACE_MODULES = ("views.py", "api.py", "media_views.py")  # in an app or in one of its domain packages
SCOPED = {"for_workspace", "for_user"}  # the tenant managers' scoped entry points (see projects.models)
LOOKUP_SHORTCUTS = {"get_object_or_404", "get_list_or_404"}

# (module, model): why that module may query the model directly.
ALLOWED = {
    ("projects/tenancy/views.py", "ApiToken"): "a user's own API tokens, filtered by request.user; no workspace data",
}


def _modules(names):
    for app in (*APPS, "labelsite"):
        for name in names:
            for path in sorted((ROOT / app).rglob(name)):
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def _model_names() -> set[str]:
    return {model.__name__ for app in APPS for model in apps.get_app_config(app).get_models()}


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _unscoped_queries(module, tree, models):
    """`Model.objects…` not starting from for_workspace/for_user, and get_object_or_404 calls: (line, model)."""
    parents = _parents(tree)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "objects" and isinstance(node.value, ast.Name)
                and node.value.id in models):
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.attr in SCOPED):
                yield node.lineno, node.value.id
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in LOOKUP_SHORTCUTS:
            first = node.args[0] if node.args else None
            yield node.lineno, first.id if isinstance(first, ast.Name) else ast.unparse(first) if first else ""


def test_views_and_apis_query_tenant_models_only_through_access():
    models = _model_names()
    found = [
        f"{module}:{line} queries {model} itself; take it from projects.tenancy.access (project_or_404, "
        f"workspace_object_or_404, item_or_404…) or through a relation of an object access returned"
        for module, tree in _modules(INTERFACE_MODULES)
        for line, model in _unscoped_queries(module, tree, models)
        if (module, model) not in ALLOWED
    ]
    assert found == []


def test_the_guard_sees_the_interface_modules_and_the_tenant_models():
    """The scan above cannot pass by looking at nothing."""
    modules = {module for module, _ in _modules(INTERFACE_MODULES)}
    assert {"labeling/views.py", "review/views.py", "exports/views.py", "review/api.py", "labeling/api.py",
            "projects/datastores/views.py", "projects/definition/views.py", "projects/tenancy/views.py",
            "labeling/media_views.py"} <= modules
    assert {"LabelingProject", "LabelClass", "Task", "Export", "DataItem", "Dataset"} <= _model_names()
    sample = ast.parse("def view(access, uuid):\n    return get_object_or_404(LabelingProject.objects.all(), uuid=uuid)\n")
    assert {model for _, model in _unscoped_queries("x.py", sample, {"LabelingProject"})} >= {"LabelingProject"}


FORBIDDEN_IN_SERVICES = {"rest_framework", "django.http", "core.api"}


def test_services_and_selectors_raise_domain_errors_not_interface_ones():
    found = []
    for module, tree in _modules(("services.py", "selectors.py")):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [f"{module}:{node.lineno} imports {name}" for name in names
                      if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_SERVICES)]
    assert found == []
