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
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "objects"
            and isinstance(node.value, ast.Name)
            and node.value.id in models
        ):
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.attr in SCOPED):
                yield node.lineno, node.value.id
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) in LOOKUP_SHORTCUTS
        ):
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
    assert {
        "labeling/views.py",
        "review/views.py",
        "exports/views.py",
        "review/api.py",
        "labeling/api.py",
        "projects/datastores/views.py",
        "projects/definition/views.py",
        "projects/tenancy/views.py",
        "labeling/media_views.py",
    } <= modules
    assert {"LabelingProject", "LabelClass", "Task", "Export", "DataItem", "Dataset"} <= _model_names()
    sample = ast.parse(
        "def view(access, uuid):\n    return get_object_or_404(LabelingProject.objects.all(), uuid=uuid)\n"
    )
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
            found += [
                f"{module}:{node.lineno} imports {name}"
                for name in names
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_SERVICES)
            ]
    assert found == []


# --- label classes named in a request: one resolver --------------------------------------------------

RESOLVER = "projects/definition/label_classes.py"
CLASS_KEYS = {"name", "uuid", "id", "pk"}
LOOKUP_CALLS = {"filter", "exclude", "get", "get_or_create", "get_object_or_404"}
# (module, function): why it may look a label class up by one of CLASS_KEYS itself.
CLASS_LOOKUPS_ALLOWED = {
    ("projects/tenancy/access.py", "label_class_or_404"): "the class named in the URL, like every URL object",
    ("labeling/services.py", "label_class_remove"): "locks the class object its caller passed (by its pk)",
}


def _all_modules():
    for app in (*APPS, "labelsite", "core"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def _functions(tree):
    """Each node's enclosing function name ('' at module level)."""
    owner: dict[ast.AST, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in ast.walk(node):
                owner.setdefault(child, node.name) if child is not node else None
    return owner


def _about_classes(node) -> bool:
    text = ast.unparse(node)
    return "LabelClass" in text or "label_classes" in text


def _class_lookups(tree):
    """(line, what) for label class lookups by name/uuid/id, name- or uuid-keyed maps of classes, and model
    choice fields over label classes: the ways a class used to be resolved from a request outside the resolver."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            receiver = (
                node.func.value if isinstance(node.func, ast.Attribute) else (node.args[0] if node.args else None)
            )
            keys = {kw.arg.split("__")[0] for kw in node.keywords if kw.arg}
            if name in LOOKUP_CALLS and receiver is not None and _about_classes(receiver) and keys & CLASS_KEYS:
                yield node.lineno, f"looks a label class up by {sorted(keys & CLASS_KEYS)}"
            if name in ("ModelChoiceField", "ModelMultipleChoiceField") and _about_classes(node):
                yield node.lineno, "a model choice field over label classes"
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "queryset" for t in node.targets
        ):
            if _about_classes(node.value):
                yield node.lineno, "a form field's queryset of label classes"
        elif isinstance(node, ast.DictComp) and any("class" in ast.unparse(g.iter) for g in node.generators):
            key = ast.unparse(node.key)
            if key.endswith((".name", ".uuid", ".uuid)", ".name.casefold()", ".name.lower()")):
                yield node.lineno, f"maps label classes by {key}"


def test_label_classes_named_in_requests_are_resolved_only_by_the_resolver():
    found = []
    for module, tree in _all_modules():
        if module == RESOLVER:
            continue
        owner = _functions(tree)
        by_line = {n.lineno: owner.get(n, "") for n in ast.walk(tree) if hasattr(n, "lineno")}
        found += [
            f"{module}:{line} {what}; resolve it with projects.definition.label_classes.label_class_resolver"
            for line, what in _class_lookups(tree)
            if (module, by_line.get(line, "")) not in CLASS_LOOKUPS_ALLOWED
        ]
    assert found == []


def test_the_label_class_guard_recognises_the_old_ways():
    old = ast.parse(
        "def a(project, names):\n    return list(project.label_classes.filter(name__in=names))\n"
        "def b(project):\n    return {c.name: c for c in project.label_classes.all()}\n"
        "def c(project, value):\n    return LabelClass.objects.filter(project=project, id__in=[value])\n"
        "class F(Form):\n    labels = ModelMultipleChoiceField(queryset=LabelClass.objects.none(), to_field_name='name')\n"
    )
    assert len(list(_class_lookups(old))) == 4
    modules = {module for module, _ in _all_modules()}
    assert RESOLVER in modules and "exports/services.py" in modules and "review/forms.py" in modules


# --- folder paths: one function --------------------------------------------------------------------

PATHS = "projects/datastores/paths.py"


def _path_rule_copies(tree):
    """(line, what): a `..` compared or listed (the rule itself), or a path cleaner of its own."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "..":
            yield node.lineno, "handles '..' itself"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "path_clean" in node.name:
            yield node.lineno, f"defines {node.name}()"
        elif (
            isinstance(node, ast.FunctionDef)
            and node.name == "clean_path"
            and not any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "path_clean" for n in ast.walk(node))
        ):
            yield node.lineno, "a form's clean_path() that does not call path_clean"


def test_folder_paths_are_cleaned_by_one_function():
    found = [
        f"{module}:{line} {what}; use projects.datastores.paths.path_clean"
        for module, tree in _all_modules()
        if module != PATHS
        for line, what in _path_rule_copies(tree)
    ]
    assert found == []
    sample = ast.parse(
        'def dataset_path_clean(p):\n    return "/".join(s for s in p.split("/") if s not in (".", ".."))\n'
    )
    assert len(list(_path_rule_copies(sample))) == 2


# --- refusals on pages: one mechanism --------------------------------------------------------------

PAGE_MODULES = ("views.py", "project_views.py", "media_views.py")
DOMAIN_ERRORS = {
    "Conflict",
    "Invalid",
    "ValidationError",
    "Refused",
    "NotFound",
    "DomainError",
    "PermissionDenied",
    "LeaseLost",
    "VersionConflict",
    "ProjectNotOpen",
    "SelfReviewRefused",
    "InUse",
}
CATCH_ALLOWED = {
    ("projects/tenancy/views.py", "accept_invitation"): "an unusable invitation is a page of its own (410 Gone)",
}


def _caught_domain_errors(tree):
    owner = _functions(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names = {getattr(kind, "attr", getattr(kind, "id", "")) for kind in kinds}
            if names & DOMAIN_ERRORS:
                yield node.lineno, owner.get(node, ""), sorted(names & DOMAIN_ERRORS)


def test_page_views_leave_refusals_to_shows_failures():
    found = [
        f"{module}:{line} {function}() catches {names} itself; decorate it with core.htmx.shows_failures"
        for module, tree in _modules(PAGE_MODULES)
        for line, function, names in _caught_domain_errors(tree)
        if (module, function) not in CATCH_ALLOWED
    ]
    assert found == []
    sample = ast.parse(
        "def view(request):\n    try:\n        pass\n    except (services.LeaseLost, ValidationError):\n        pass\n"
    )
    assert [names for _, _, names in _caught_domain_errors(sample)] == [["LeaseLost", "ValidationError"]]
