"""ML assist benchmarks: featurization speed, training and pre-labeling at scale, claims at 1,000,000 tasks with the
ML order, and pre-label accuracy and coverage on real photographs.

Usage (from the repository root; the ML packages of requirements-ml.txt installed):
    .venv/bin/python bench/ml.py featurize [--images FOLDER] [--n 256]     # images/s at 224 px, decode included
    .venv/bin/python bench/ml.py learn [--labels 10000] [--unlabeled 100000] # train, validate, predict, cluster
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ls_ml_bench .venv/bin/python bench/ml.py writes --unlabeled 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ls_ml_bench .venv/bin/python bench/ml.py claim --tasks 1000000
    .venv/bin/python bench/ml.py accuracy --images FOLDER [--per-class 150] [--labels 50 200 1000]

`learn` uses synthetic embeddings (10 classes, Gaussian around random centres): timing only. `accuracy` needs real
photographs in one sub-folder per class (no images are shipped with Labelsite: point it at a folder you may use);
it featurizes them once (cached next to the folder as .npy), then for each number of manual labels draws that many
labeled images (stratified) several times, trains and validates exactly as a cycle does (assist.learn), and measures
the pre-labels on the remaining images against their true class. Every command prints the machine's load average,
since other work on the machine slows featurization.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import grid  # noqa: E402  (sets Django up: production settings, the bench data folder)
import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from assist import featurize, learn  # noqa: E402
from labeling import services  # noqa: E402
from labeling.models import ML_UNORDERED, PreLabel, Task  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def drawn_photos(n: int) -> list[bytes]:
    """640×480 JPEGs of noise and shapes: decoding costs like a camera-sized image (no photographs are shipped)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
        ImageDraw.Draw(image).ellipse((100 + i % 50, 80, 400, 380), fill=(200, 80, 20))
        import io

        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def cmd_featurize(args) -> None:
    if args.images:
        files = images_in(Path(args.images))[: args.n]
        blobs = [p.read_bytes() for p in files]
        source = f"{len(blobs)} photographs from {args.images}"
    else:
        blobs = drawn_photos(args.n)
        source = f"{len(blobs)} drawn 640×480 JPEGs"
    print(f"featurize: {source}; batch {args.batch}; {load()}", flush=True)
    started = time.perf_counter()
    featurize.backbone()
    print(f"  model loaded and frozen in {time.perf_counter() - started:.1f} s", flush=True)
    featurize.embed([featurize.pixels(blobs[0])])  # warm-up
    decode = infer = 0.0
    started = time.perf_counter()
    for start in range(0, len(blobs), args.batch):
        t0 = time.perf_counter()
        arrays = [featurize.pixels(b) for b in blobs[start : start + args.batch]]
        t1 = time.perf_counter()
        featurize.embed(arrays)
        decode, infer = decode + t1 - t0, infer + time.perf_counter() - t1
    total = time.perf_counter() - started
    print(
        f"  {len(blobs) / total:.1f} images/s in all ({total:.1f} s): decode + resize {decode:.1f} s, "
        f"network {infer:.1f} s ({len(blobs) / infer:.1f} images/s); {load()}"
    )


def synthetic(n: int, centres: np.ndarray, rng) -> tuple[list[bytes], list[list[int]]]:
    """n embeddings around the class centres (stored as float16, like real ones)."""
    y = rng.integers(0, len(centres), n)
    x = centres[y] + rng.normal(scale=8.0, size=(n, learn.DIMENSIONS))
    return [row.astype("<f2").tobytes() for row in x], [[int(c)] for c in y]


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"  {label}: {time.perf_counter() - started:.2f} s", flush=True)
    return result


def cmd_learn(args) -> None:
    rng = np.random.default_rng(0)
    print(f"learn: {args.labels:,} labels, {args.unlabeled:,} unlabeled, 10 classes (synthetic embeddings); {load()}")
    centres = rng.normal(size=(10, learn.DIMENSIONS))
    blobs, y = synthetic(args.labels, centres, rng)
    pool, _ = synthetic(args.unlabeled, centres, rng)
    x = timed("read 10,000 stored embeddings (float16 → float32, normalized)", lambda: learn.vectors(blobs))
    learnable = list(range(10))
    model = timed("train (logistic regression, lbfgs)", lambda: learn.fit(x, y, learnable, False))
    validation = timed(
        "validate (5-fold cross-validation, threshold)",
        lambda: learn.cross_validate(x, y, learnable, False, target=0.95),
    )
    print(
        f"    held-out accuracy {100 * validation.overall_accuracy:.1f} %, threshold {validation.threshold}, "
        f"coverage {100 * validation.coverage:.1f} %"
    )

    def predict_all():
        confident = 0
        for start in range(0, len(pool), 2000):
            _, sure = model.predict(learn.vectors(pool[start : start + 2000]))
            confident += int((sure >= (validation.threshold or 1.1)).sum())
        return confident

    confident = timed(f"predict {args.unlabeled:,} unlabeled in chunks of 2,000", predict_all)
    print(f"    {confident:,} above the threshold")
    sample = learn.vectors(pool[: min(20_000, len(pool))])
    k = learn.cluster_count(len(pool))
    clusters = timed(f"k-means fit ({k} clusters on a 20,000 sample)", lambda: learn.clusters_fit(sample, k))
    assigned = timed(
        f"assign {args.unlabeled:,} to clusters",
        lambda: np.concatenate(
            [learn.assign(clusters, learn.vectors(pool[s : s + 2000])) for s in range(0, len(pool), 2000)]
        ),
    )
    timed("order keys", lambda: learn.order_keys(assigned, None, np.arange(len(pool))))
    print(f"  {load()}")


def cmd_writes(args) -> None:
    """The database side of a cycle on PostgreSQL: pre-label writes and order writes for N unlabeled tasks."""
    size = round(args.unlabeled / 0.7)  # grid's generator leaves 70 % unlabeled
    project = grid.ensure_project(size, name=f"ml-writes-{size}", ws_slug="ml")
    ids = list(Task.objects.filter(project=project, state="unlabeled").order_by("id").values_list("id", flat=True))
    classes = list(project.label_classes.values_list("id", flat=True))
    print(f"writes: {len(ids):,} unlabeled tasks; {load()}", flush=True)
    started = time.perf_counter()
    written = 0
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        written += services.prelabels_model_write(
            project=project, suggestions={t: ([classes[t % len(classes)]], 0.97) for t in chunk}
        )
    print(f"  pre-label writes: {written:,} in {time.perf_counter() - started:.1f} s (chunks of 2,000)", flush=True)
    started = time.perf_counter()
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        services.tasks_ml_order_set(project=project, orders=[(t, (t % 256 << 32) + i) for i, t in enumerate(chunk)])
    print(f"  order writes: {len(ids):,} in {time.perf_counter() - started:.1f} s (chunks of 5,000)", flush=True)
    started = time.perf_counter()
    removed = services.prelabels_model_clear(project=project)
    print(f"  clearing {removed:,} model pre-labels: {time.perf_counter() - started:.1f} s; {load()}")
    assert not PreLabel.objects.filter(task__project=project).exists()


def cmd_claim(args) -> None:
    """Claim time with the ML order (clusters) against the default order, on the same project."""
    project = grid.ensure_project(args.tasks)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE labeling_task SET ml_order = ((abs(hashtext(id::text)) %% 256)::bigint << 32) + order_key "
            "WHERE project_id = %s AND state = 'unlabeled' AND ml_order >= %s",
            [project.pk, ML_UNORDERED],
        )
        cursor.execute("VACUUM ANALYZE labeling_task")
    user = grid.labeler(project.workspace, "bench-ml-labeler")
    timings: dict[bool, list[float]] = {False: [], True: []}
    statements: dict[bool, int] = {}
    # The two orders take turns run by run, so a busy moment on the machine hits both alike.
    for run in range(args.runs + 5):
        for clustered in (False, True):
            type(project).objects.filter(pk=project.pk).update(ml_assisted=clustered, ml_cluster=clustered)
            project.refresh_from_db()
            ms, queries, page = grid.measure(lambda: services.tasks_claim(project=project, user=user, size=grid.PAGE))
            assert len(page) == grid.PAGE
            services.tasks_release(project=project, user=user)
            if run >= 5:
                timings[clustered].append(ms)
                statements[clustered] = queries
    for clustered, values in timings.items():
        order = "ml_order (clusters)" if clustered else "order_key (default)"
        print(
            f"  {args.tasks:,} tasks, claim of {grid.PAGE} by {order}: median {statistics.median(values):.1f} ms, "
            f"p95 {grid.percentile(values, 0.95):.1f} ms, {statements[clustered]} statements",
            flush=True,
        )
    print(grid.claim_plan(project, user))
    print(f"  {grid.machine()}; {load()}")


def cmd_accuracy(args) -> None:
    folder = Path(args.images)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    cache = folder.parent / f".{folder.name}-{args.per_class}-features.npz"
    if cache.exists():
        saved = np.load(cache)
        x, truth = saved["x"], saved["y"]
    else:
        files, labels = [], []
        for index, name in enumerate(classes):
            found = images_in(folder / name)
            random.Random(0).shuffle(found)
            files += found[: args.per_class]
            labels += [index] * len(found[: args.per_class])
        print(f"accuracy: featurizing {len(files):,} photographs of {len(classes)} classes; {load()}", flush=True)
        started, blobs = time.perf_counter(), []
        for start in range(0, len(files), 32):
            blobs += featurize.embed([featurize.pixels(p.read_bytes()) for p in files[start : start + 32]])
        print(f"  {len(files) / (time.perf_counter() - started):.1f} images/s", flush=True)
        x, truth = learn.vectors(blobs), np.array(labels)
        np.savez(cache, x=x, y=truth)
    print(
        f"accuracy: {len(truth):,} photographs, {len(classes)} classes ({', '.join(classes)}); target "
        f"{args.target:.0%}; {args.repeats} draws per size"
    )
    print(
        "| manual labels | held-out accuracy (threshold) | threshold | pre-labeled (coverage of the rest) | "
        "accuracy of the pre-labels |"
    )
    print("|---|---|---|---|---|")
    for n in args.labels:
        coverages, accuracies, held, thresholds = [], [], [], []
        for repeat in range(args.repeats):
            rng = np.random.default_rng(repeat)
            chosen = stratified(truth, n, rng)
            rest = np.setdiff1d(np.arange(len(truth)), chosen)
            y = [[int(truth[i])] for i in chosen]
            counts = np.bincount(truth[chosen], minlength=len(classes))
            learnable = [c for c in range(len(classes)) if counts[c] >= 5]
            validation = learn.cross_validate(x[chosen], y, learnable, False, target=args.target)
            model = learn.fit(x[chosen], y, learnable, False)
            predicted, sure = model.predict(x[rest])
            if validation.threshold is None:
                coverages.append(0.0)
                held.append(validation.accuracy)
                continue
            keep = sure >= validation.threshold
            right = np.array([p[0] == t for p, t in zip(predicted, truth[rest], strict=True)])
            coverages.append(float(keep.mean()))
            accuracies.append(float(right[keep].mean()) if keep.any() else float("nan"))
            held.append(validation.accuracy)
            thresholds.append(validation.threshold)

        def span(values, pct=True):
            if not values:
                return "—"
            scale = 100 if pct else 1
            return (
                f"{scale * statistics.mean(values):.1f}{' %' if pct else ''} "
                f"({scale * min(values):.1f}–{scale * max(values):.1f})"
            )

        print(
            f"| {n:,} | {span(held)} | {span(thresholds, pct=False)} | {span(coverages)} | {span(accuracies)} |",
            flush=True,
        )
    print(f"{load()}")


def stratified(truth: np.ndarray, n: int, rng) -> np.ndarray:
    """n indices with every class as equally represented as the data allows."""
    classes = np.unique(truth)
    per = {c: list(rng.permutation(np.flatnonzero(truth == c))) for c in classes}
    chosen: list[int] = []
    while len(chosen) < n and any(per.values()):
        for c in classes:
            if per[c] and len(chosen) < n:
                chosen.append(int(per[c].pop()))
    return np.array(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("featurize")
    p.add_argument("--images")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p = sub.add_parser("learn")
    p.add_argument("--labels", type=int, default=10_000)
    p.add_argument("--unlabeled", type=int, default=100_000)
    p = sub.add_parser("writes")
    p.add_argument("--unlabeled", type=int, default=100_000)
    p = sub.add_parser("claim")
    p.add_argument("--tasks", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=100)
    p = sub.add_parser("accuracy")
    p.add_argument("--images", required=True)
    p.add_argument("--per-class", type=int, default=150)
    p.add_argument("--labels", type=int, nargs="+", default=[50, 200, 1000])
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.command in ("writes", "claim"):
        if connection.vendor != "postgresql":
            raise SystemExit("bench/ml.py writes|claim needs DATABASE_URL=postgres://… (PostgreSQL only)")
        call_command("migrate", verbosity=0)
    {
        "featurize": cmd_featurize,
        "learn": cmd_learn,
        "writes": cmd_writes,
        "claim": cmd_claim,
        "accuracy": cmd_accuracy,
    }[args.command](args)


if __name__ == "__main__":
    main()
