#!/usr/bin/env python3
"""Screenshots of Labelsite's main pages, each as the role that uses it, at 1280×720: docs/screenshots/*.png.

    .venv/bin/python docs/screenshots.py                 # every page, light, plus a few in dark mode
    .venv/bin/python docs/screenshots.py --only grid     # pages whose name contains "grid"
    .venv/bin/python docs/screenshots.py --out /tmp/shots --viewport 820x1180

It lives in docs/ beside the pictures it makes (it documents the product; it measures nothing, so it is not a
benchmark). It builds a throwaway demo world in a temporary data folder (SQLite, Celery eager: the demo organization
of `make demo`, part of the images labeled, some of them reviewed, one export), serves it with Django's development
server on a free local port and drives Debian's Chromium through Playwright (never `playwright install`). Nothing
outside the temporary folder and the output folder is touched. Needs requirements-dev.txt and Chromium.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LABELSITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _environment(data_dir: Path) -> dict:
    """A development environment of its own: nothing of the caller's database, broker or cache is used."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update(
        {
            "DEBUG": "true",
            "LABELSITE_DATA_DIR": str(data_dir),
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "DJANGO_SETTINGS_MODULE": "labelsite.settings",
            "LABELSITE_LOG_LEVEL": "WARNING",
        }
    )
    return env


def build_world(stdout) -> dict:
    """The demo organization with work done in it; returns what the pages need (project uuid, dataset uuid)."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from exports.services import export_create
    from labeling import services as labeling
    from projects.models import Dataset, LabelClass, LabelingProject
    from review.services import review_decide

    call_command("migrate", verbosity=0)
    call_command("demo", stdout=stdout)
    users = {u.username: u for u in get_user_model().objects.all()}
    project = LabelingProject.objects.filter(workspace__slug="ml-team").order_by("created_at").first()
    if project.state == LabelingProject.State.INITIALIZING:
        labeling.project_tasks_sync(project=project)
        project.refresh_from_db()
    classes = list(LabelClass.objects.filter(project=project, removed_at__isnull=True).order_by("position"))
    # Two labelers submit three pages of 9; the file name says which class is right ("cat 07.jpg").
    for name in ("labeler", "labeler2", "labeler"):
        labeling.grid_layout_set(project=project, user=users[name], page_size=9)
        with transaction.atomic():
            page = labeling.tasks_claim(project=project, user=users[name], size=9)
            labels = {t.id: [classes[0].id if "cat" in t.item.key else classes[1].id] for t in page}
            labels[page[-1].id] = [classes[2].id]
            labeling.page_submit(project=project, user=users[name], labels=labels)
    from labeling.models import Task

    labeled = list(Task.objects.filter(project=project, state=Task.State.LABELED).order_by("labeled_at", "id"))
    review_decide(
        project=project,
        reviewer=users["reviewer"],
        decision="approve",
        decisions=[(t.id, t.version) for t in labeled[:10]],
    )
    review_decide(
        project=project,
        reviewer=users["reviewer"],
        decision="reject",
        reason="Look again: a dog.",
        decisions=[(t.id, t.version) for t in labeled[10:12]],
    )
    export_create(project=project, actor=users["manager"], format="coco")
    # The labeler's open page for the grid picture: some images tagged, none submitted yet.
    with transaction.atomic():
        page = labeling.tasks_claim(project=project, user=users["labeler"], size=9)
        labeling.draft_set(
            project=project, user=users["labeler"], task_ids=[t.id for t in page[:4]], label_ids=[classes[0].id]
        )
    return {"project": str(project.uuid), "dataset": str(Dataset.objects.get(name="cats-n-dogs").uuid)}


def session_cookies(usernames) -> dict:
    """A logged-in session per demo user, made the way Django's test client logs in (no passwords needed)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for user in get_user_model().objects.filter(username__in=usernames):
        client = Client()
        client.force_login(user)
        cookies[user.username] = (settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return cookies


def pages(world) -> list[tuple[str, str, str]]:
    """(file name, user, path): the main pages, each as the role that works there."""
    w = "/o/contoso/ml-team/"
    p = f"{w}projects/{world['project']}/"
    return [
        ("home", "labeler", "/"),
        ("workspace", "manager", w),
        ("dashboard", "manager", p),
        ("label-instructions", "labeler", f"{p}label/"),
        ("grid", "labeler", f"{p}label/tasks/"),
        ("labeled-data", "reviewer", f"{p}review/"),
        ("review-queue", "reviewer", f"{p}review/queue/"),
        ("export", "manager", f"{p}exports/"),
        ("import", "manager", f"{p}exports/import/"),
        ("settings", "manager", f"{p}settings/"),
        ("wizard", "manager", f"{w}projects/new/"),
        ("datasets", "manager", f"{w}datasets/"),
        ("dataset", "manager", f"{w}datasets/{world['dataset']}/"),
        ("members", "wsadmin", f"{w}members/"),
    ]


DARK = ("dashboard", "grid", "labeled-data", "workspace", "settings")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env, port):
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"The development server did not start:\n{server.stderr.read().decode()}") from None
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("The development server did not answer within 20 seconds.")


def _shrink(path: Path) -> None:
    """Screenshots are mostly flat colour: 256 colours keep them sharp and well under 200 KB."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)


def shoot(base_url, cookies, todo, out: Path, viewport, schemes) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for scheme in schemes:
            for name, user, path in todo:
                if scheme == "dark" and name not in DARK:
                    continue
                context = browser.new_context(base_url=base_url, viewport=viewport, color_scheme=scheme)
                cookie_name, value = cookies[user]
                context.add_cookies([{"name": cookie_name, "value": value, "url": base_url}])
                page = context.new_page()
                response = page.goto(path, wait_until="networkidle")
                if response is None or response.status != 200:
                    raise SystemExit(f"{path} as {user} answered {response.status if response else 'nothing'}")
                target = out / (f"{name}-dark.png" if scheme == "dark" else f"{name}.png")
                page.screenshot(path=str(target))
                _shrink(target)
                written.append(target)
                context.close()
        browser.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--viewport", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--light-only", action="store_true", help="skip the dark-mode pictures")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium (or set LABELSITE_CHROMIUM)")
    width, height = (int(n) for n in args.viewport.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labelsite-shots-") as tmp:
        env = _environment(Path(tmp))
        os.environ.update(env)
        for key in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
            os.environ.pop(key, None)
        sys.path.insert(0, str(ROOT))
        with open(os.devnull, "w") as quiet:
            world = build_world(quiet)
        todo = [row for row in pages(world) if args.only in row[0]]
        cookies = session_cookies({user for _, user, _ in todo})
        port = _free_port()
        server = _serve(env, port)
        try:
            written = shoot(
                f"http://127.0.0.1:{port}",
                cookies,
                todo,
                args.out,
                {"width": width, "height": height},
                ("light",) if args.light_only else ("light", "dark"),
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
    for path in written:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
