"""Benchmark: register N files of a local datastore through the real scanning code.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelsite_bench .venv/bin/python bench/scan.py --items 100000

Generates (once) a folder of N tiny real JPEG/PNG files in subfolders of 1,000 under the data folder,
creates a fresh dataset on it and times `scanning.dataset_sync(mode="scan")` (registration only:
thumbnails are separate Celery work). Prints items/s and the process's memory during the scan.
"""

import argparse
import io
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_folder(folder: Path, items: int) -> None:
    from PIL import Image

    marker = folder.parent / f".complete-{items}"
    if marker.exists():
        return
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(jpeg, "JPEG")
    Image.new("RGB", (32, 24), (40, 120, 200)).save(png, "PNG")
    for n in range(items):
        sub = folder / f"part {n // 1000:04d}"
        if n % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        is_png = n % 4 == 0
        (sub / f"img {n:07d}.{'png' if is_png else 'jpg'}").write_bytes(png.getvalue() if is_png else jpeg.getvalue())
    marker.write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()

    data = Path(os.environ.get("LABELSITE_DATA_DIR", ROOT / "data" / "bench")).resolve()
    roots = data / "bench-datastores"
    os.environ["LABELSITE_DATA_DIR"] = str(data)
    os.environ["LABELSITE_LOCAL_DATASTORE_ROOTS"] = str(roots)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
    os.environ.setdefault("DEBUG", "true")  # the development setup, as before (the defaults are production's)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from projects.datastores import scanning
    from projects.models import DataItem, Dataset, Datastore, Organization, Workspace

    folder = roots / f"files-{args.items}"
    started = time.perf_counter()
    make_folder(folder, args.items)
    print(f"folder ready: {args.items} files ({time.perf_counter() - started:.1f} s)")

    call_command("migrate", verbosity=0)
    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    workspace, _ = Workspace.objects.get_or_create(organization=org, slug="bench", defaults={"name": "Bench"})
    store, _ = Datastore.objects.update_or_create(
        workspace=workspace,
        name=f"bench-{args.items}",
        defaults={"kind": Datastore.Kind.LOCAL, "local_path": str(folder)},
    )
    Dataset.objects.filter(workspace=workspace, datastore=store).delete()
    dataset = Dataset.objects.create(
        workspace=workspace, name=f"bench-{args.items}-{int(time.time())}", datastore=store
    )

    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(rss_mb())
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    before = rss_mb()
    sampler.start()
    started = time.perf_counter()
    counters = scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    if counters is None:
        raise SystemExit("Another scan holds this dataset's lease.")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    registered = DataItem.objects.filter(dataset=dataset, state=DataItem.State.READY).count()
    quarter = max(1, len(samples) // 4)
    print(
        f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']}), batch {settings.LABELSITE_SCAN_BATCH}"
    )
    print(
        f"registered {registered} of {counters['found']} files in {elapsed:.1f} s: {counters['found'] / elapsed:,.0f} items/s"
    )
    print(
        f"RSS: {before:.0f} MB before the scan; during it, first quarter max {max(samples[:quarter]):.0f} MB, "
        f"last quarter max {max(samples[-quarter:]):.0f} MB, peak {max(samples):.0f} MB"
    )
    started = time.perf_counter()
    again = scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    if again is None:
        raise SystemExit("Another scan holds this dataset's lease.")
    elapsed = time.perf_counter() - started
    print(
        f"refresh with nothing new: re-listed {again['found']} files, added {again['ready']}, in {elapsed:.1f} s "
        f"({again['found'] / elapsed:,.0f} items/s); RSS now {rss_mb():.0f} MB"
    )
    Dataset.objects.filter(pk=dataset.pk).delete()


if __name__ == "__main__":
    main()
