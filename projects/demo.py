"""Demo content: a local datastore "demo-images" with drawn cats and dogs, and the scanned dataset "cats-n-dogs"."""

import random
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from PIL import Image, ImageDraw

from core.features import ml_available
from projects.datastores import scanning
from projects.definition import services as project_services
from projects.models import Dataset, Datastore, LabelingProject

FOLDER = "MultiClass - DogsCats"


def _draw(kind: str, n: int, rng: random.Random) -> Image.Image:
    """A cartoon face: cats get pointed ears and whiskers, dogs floppy ears and a big nose."""
    background = tuple(rng.randint(170, 250) for _ in range(3))
    image = Image.new("RGB", (320, 240), background)
    draw = ImageDraw.Draw(image)
    fur: tuple[int, ...] = (230, 140, 40) if kind == "cat" else (120, 80, 40)
    fur = tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in fur)
    cx, cy, r = 160 + rng.randint(-30, 30), 130 + rng.randint(-15, 15), 70
    if kind == "cat":
        draw.polygon([(cx - r, cy - 20), (cx - r + 15, cy - r - 40), (cx - 15, cy - r + 5)], fill=fur)
        draw.polygon([(cx + r, cy - 20), (cx + r - 15, cy - r - 40), (cx + 15, cy - r + 5)], fill=fur)
    else:
        draw.ellipse([cx - r - 25, cy - 50, cx - r + 25, cy + 50], fill=tuple(c // 2 for c in fur))
        draw.ellipse([cx + r - 25, cy - 50, cx + r + 25, cy + 50], fill=tuple(c // 2 for c in fur))
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fur)
    for dx in (-25, 25):
        draw.ellipse([cx + dx - 9, cy - 25, cx + dx + 9, cy - 7], fill=(20, 20, 20))
    if kind == "cat":
        draw.polygon([(cx - 8, cy + 5), (cx + 8, cy + 5), (cx, cy + 15)], fill=(240, 120, 150))
        for side in (-1, 1):
            for dy in (-6, 6):
                draw.line([(cx + side * 15, cy + 15), (cx + side * 70, cy + 15 + dy * 2)], fill=(40, 40, 40), width=2)
    else:
        draw.ellipse([cx - 18, cy, cx + 18, cy + 24], fill=(20, 20, 20))
        draw.arc([cx - 25, cy + 15, cx + 25, cy + 45], 20, 160, fill=(60, 20, 20), width=3)
    draw.text((8, 8), f"{kind} {n}", fill=(40, 40, 40))
    return image


def make_demo_images(root: Path) -> None:
    folder = root / FOLDER
    if (root / ".demo-complete").exists():
        return
    (folder / "more").mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)  # noqa: S311 — the same demo drawings on every machine; nothing secret
    for n in range(1, 31):
        for kind in ("cat", "dog"):
            fmt = "png" if n % 5 == 0 else "jpg"
            sub = folder / "more" if n in (29, 30) else folder
            image = _draw(kind, n, rng)
            image.save(sub / f"{kind} {n:02d}.{fmt}", "PNG" if fmt == "png" else "JPEG", quality=88)
    (folder / "notes.txt").write_text("Cats and dogs drawn by the Labelsite demo.\n")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"this is not really a JPEG" * 4)
    (root / ".demo-complete").write_text("")


def demo_datastore(*, workspace, stdout=None) -> Dataset:
    """Idempotent: reuses the folder, the datastore and the dataset when they exist."""
    root = Path(settings.LABELSITE_LOCAL_DATASTORE_ROOTS[0]) / "demo-images"
    make_demo_images(root)
    datastore, _ = Datastore.objects.get_or_create(
        workspace=workspace,
        name="demo-images",
        defaults={"kind": Datastore.Kind.LOCAL, "local_path": str(root), "auth_type": Datastore.Auth.NONE},
    )
    dataset, created = Dataset.objects.get_or_create(
        workspace=workspace,
        name="cats-n-dogs",
        defaults={
            "datastore": datastore,
            "path": FOLDER,
            "include_subfolders": True,
            "description": "Drawn cats and dogs for trying out Labelsite.",
        },
    )
    if created or dataset.scan_state != Dataset.ScanState.DONE:
        scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
        while scanning.thumbnails_batch(dataset.pk, limit=100):
            pass
        dataset.refresh_from_db()
    if stdout is not None:
        stdout.write(f"Demo dataset cats-n-dogs: {dataset.scan_registered} images on datastore demo-images.")
    return dataset


# Not the tutorial's name (multi-class-cats-n-dogs): a newcomer following the tutorial literally must be able to
# create that project in the demo workspace.
DEMO_PROJECT = "demo-cats-n-dogs"
# What installs made before the rename call the demo project; theirs is left alone and never duplicated.
OLD_DEMO_PROJECT = "multi-class-cats-n-dogs"


def demo_project(*, workspace, stdout=None):
    """A project like the tutorial's on the demo dataset (Cat, Dog, Uncertain), created once by the demo manager."""
    dataset = Dataset.objects.get(workspace=workspace, name="cats-n-dogs")
    projects = LabelingProject.objects.filter(workspace=workspace)
    if projects.filter(Q(name=DEMO_PROJECT) | Q(name=OLD_DEMO_PROJECT, dataset=dataset)).exists():
        return None
    manager = get_user_model().objects.get(username="manager")
    project = project_services.project_create(
        workspace=workspace,
        actor=manager,
        name=DEMO_PROJECT,
        task_type=LabelingProject.TaskType.MULTI_CLASS,
        dataset=dataset,
        incremental_refresh=False,
        label_names=["Cat", "Dog", "Uncertain"],
        instructions_text="Labeling tutorial - Cats & Dogs. Pick **Cat** or **Dog**; use *Uncertain* when you cannot tell.",
        # ML assist where the server has it, with a first training after 20 labels: 60 images are a small demo.
        ml_assisted=ml_available(),
        ml_min_labels=20,
    )
    if stdout is not None:
        stdout.write(f"Demo project {DEMO_PROJECT}: its tasks are created by the worker once `make run` starts it.")
    return project
