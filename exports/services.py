"""Writes for exports and imports: create, retry and delete export jobs (runner.py runs and reaps them);
import labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict
from exports import importers
from exports.models import Export, LabelImport
from exports.tasks import export_run_task
from labeling import stats
from labeling.models import Annotation, PreLabel, Task
from projects.definition.label_classes import label_class_resolver
from projects.models import LabelingProject
from projects.tenancy.notifications import notification_create_quietly
from review.models import Review


def _enqueue(export: Export) -> None:
    def send():
        result = export_run_task.delay(export.pk)
        Export.objects.filter(pk=export.pk, celery_task_id="").update(celery_task_id=result.id or "")

    transaction.on_commit(send)


@transaction.atomic
def export_create(
    *, project, actor, format: str, only_approved: bool = False, include_unlabeled: bool = False
) -> Export:
    """Queue an export of `project`; the file is written by a Celery worker."""
    if format not in Export.Format.values:
        raise ValidationError({"format": "Choose one of the export formats."})
    export = Export.objects.create(
        project=project,
        format=format,
        only_approved=only_approved,
        # Unlabeled images only mean something in COCO (images without annotations).
        include_unlabeled=include_unlabeled and format == Export.Format.COCO,
        created_by=actor,
    )
    _enqueue(export)
    return export


@transaction.atomic
def export_retry(*, export: Export, actor) -> Export:
    """Queue a failed export again; the new run writes a complete file from a fresh snapshot."""
    changed = Export.objects.filter(pk=export.pk, state=Export.State.FAILED, deleted_at=None).update(
        state=Export.State.QUEUED,
        progress=0,
        error="",
        lease=None,
        heartbeat_at=None,
        started_at=None,
        finished_at=None,
        celery_task_id="",
    )
    if not changed:
        raise Conflict("Only a failed export can be retried.")
    export.refresh_from_db()
    _enqueue(export)
    return export


@transaction.atomic
def export_delete(*, export: Export, actor) -> None:
    """Remove the file and hide the export; a queued or running one must finish (or fail) first."""
    export = Export.objects.select_for_update().get(pk=export.pk)
    if export.is_active:
        raise Conflict("This export is still running; delete it when it has finished.", data={"state": export.state})
    name = export.file
    Export.objects.filter(pk=export.pk).update(deleted_at=timezone.now(), deleted_by=actor, file="")
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


# --- label import ------------------------------------------------------------------------------

# Why a row of an import file was refused, by kind: the report counts and lists them in these words.
REFUSED_IMAGE, REFUSED_CLASS, REFUSED_ROW = "image", "class", "row"
REFUSAL_KINDS = {  # kind: (one, several, what it means)
    REFUSED_IMAGE: ("unknown image", "unknown images", ": no image of this project's dataset has that path"),
    REFUSED_CLASS: ("unknown class", "unknown classes", ": not a label class of this project"),
    REFUSED_ROW: ("bad row", "bad rows", ""),
}


@dataclass
class ImportReport:
    """What an import did, per row class: matched images, newly labeled, unchanged, and refused rows with why."""

    as_final: bool
    rows: int = 0
    matched: int = 0
    applied: int = 0  # final: labeled (approved) by this import; pre-labels: got a suggestion
    unchanged: int = 0  # final: already had exactly these labels, approved
    skipped: int = 0  # pre-labels for images that are already labeled
    refused: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, row, image, why)
    id: UUID | None = None  # the stored report (LabelImport), once the import went through
    # A report read back from storage keeps only the first SHOWN refused rows, and the real counts here.
    stored_counts: dict | None = field(default=None, repr=False)

    SHOWN = 200

    def refuse(self, kind: str, row: str, image: str, why: str) -> None:
        self.refused.append((kind, row, image, why))

    @property
    def unmatched(self) -> list[str]:
        return [image for kind, _, image, _ in self.refused if kind == REFUSED_IMAGE]

    @property
    def invalid(self) -> list[tuple[str, str]]:
        return [(row, why) for kind, row, _, why in self.refused if kind != REFUSED_IMAGE]

    @property
    def refused_shown(self):
        return self.refused[: self.SHOWN]

    @property
    def refused_by_kind(self) -> list[tuple[str, int]]:
        """(plain description, how many) per kind of refusal that occurred, in a fixed order."""
        counts = self._kind_counts()
        return [
            ((one if counts.get(kind) == 1 else several) + meaning, counts.get(kind, 0))
            for kind, (one, several, meaning) in REFUSAL_KINDS.items()
            if counts.get(kind)
        ]

    @property
    def unmatched_shown(self):
        return self.unmatched[: self.SHOWN]

    @property
    def invalid_shown(self):
        return self.invalid[: self.SHOWN]

    def _kind_counts(self) -> dict[str, int]:
        if self.stored_counts:
            return self.stored_counts["kinds"]
        return dict(Counter(kind for kind, *_ in self.refused))

    @property
    def unmatched_count(self) -> int:
        return self._kind_counts().get(REFUSED_IMAGE, 0)

    @property
    def invalid_count(self) -> int:
        return sum(n for kind, n in self._kind_counts().items() if kind != REFUSED_IMAGE)

    @property
    def refused_count(self) -> int:
        return sum(self._kind_counts().values())

    def as_dict(self) -> dict:
        return {
            "id": str(self.id) if self.id else None,
            "as_final": self.as_final,
            "rows": self.rows,
            "matched": self.matched,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "unmatched": self.unmatched_shown,
            "unmatched_count": self.unmatched_count,
            "invalid": [{"row": line, "reason": reason} for line, reason in self.invalid_shown],
            "invalid_count": self.invalid_count,
            "refused": [
                {"kind": kind, "row": row, "image": image, "reason": why}
                for kind, row, image, why in self.refused_shown
            ],
            "refused_count": self.refused_count,
            "refused_kinds": self._kind_counts(),
        }

    @classmethod
    def from_stored(cls, record) -> ImportReport:
        """The report of a stored import (`LabelImport`), as the import page shows it."""
        data = record.report
        kept = {"rows", "matched", "applied", "unchanged", "skipped"}
        report = cls(as_final=record.as_final, **{name: data[name] for name in kept if name in data})
        report.id = record.uuid
        report.refused = [(row["kind"], row["row"], row["image"], row["reason"]) for row in data.get("refused", [])]
        report.stored_counts = {
            "kinds": data.get("refused_kinds") or dict(Counter(kind for kind, *_ in report.refused))
        }
        return report


def _resolve_rows(project, parsed, report) -> dict[int, list]:
    """Label classes per matched task id; rows that cannot be applied go to the report with the reason. Labels are
    resolved like every label a request names: by name (ignoring case) or UUID, and a removed class takes no new tags."""
    classes = label_class_resolver(project=project)
    multi = project.task_type == LabelingProject.TaskType.MULTI_LABEL
    items = importers.match_items(project.dataset_id, {row.refs for row in parsed.rows})
    tasks = dict(Task.objects.filter(project=project, item_id__in=set(items.values())).values_list("item_id", "pk"))
    wanted: dict[int, list] = {}
    for row in parsed.rows:
        item_id = items.get(row.refs)
        task_id = tasks.get(item_id) if item_id is not None else None
        if task_id is None:
            report.refuse(REFUSED_IMAGE, row.line, row.refs[0], "no image of this project's dataset has that path")
            continue
        if not row.labels:
            report.refuse(REFUSED_ROW, row.line, row.refs[0], "it has no label")
            continue
        try:
            chosen = classes.many(row.labels)
        except ValidationError as error:
            if error.code == "label_class_unknown":
                names = ", ".join(c.name for c in classes.active) or "none"
                reason = f"unknown class “{(error.params or {}).get('label', '')}” (this project's classes: {names})"
            else:
                reason = error.messages[0]
            report.refuse(REFUSED_CLASS, row.line, row.refs[0], reason)
            continue
        merged = wanted.get(task_id, [])
        merged = merged + [c for c in chosen if c not in merged]
        if not multi and len(merged) > 1:
            report.refuse(
                REFUSED_ROW,
                row.line,
                row.refs[0],
                "more than one label, but this project takes one label per image (multi-class)",
            )
            continue
        wanted[task_id] = merged
    return wanted


def _apply_final(project, actor, wanted: dict[int, list], report) -> None:
    now = timezone.now()
    moves: Counter = Counter()
    class_delta: Counter = Counter()
    for start in range(0, len(wanted), 1000):
        ids = list(wanted)[start : start + 1000]
        tasks = {t.pk: t for t in Task.objects.select_for_update().filter(pk__in=ids)}
        current = Annotation.objects.filter(task_id__in=ids, is_current=True)
        old: dict[int, set] = {}
        for task_id, class_id in Annotation.labels.through.objects.filter(annotation__in=current).values_list(
            "annotation__task_id", "labelclass_id"
        ):
            old.setdefault(task_id, set()).add(class_id)
        changed = [
            pk
            for pk in ids
            if not (tasks[pk].state == Task.State.APPROVED and old.get(pk, set()) == {c.pk for c in wanted[pk]})
        ]
        report.unchanged += len(ids) - len(changed)
        if not changed:
            continue
        Annotation.objects.filter(task_id__in=changed, is_current=True).update(is_current=False)
        created = Annotation.objects.bulk_create(
            [Annotation(task_id=pk, source=Annotation.Source.IMPORT, created_by=actor) for pk in changed]
        )
        Annotation.labels.through.objects.bulk_create(
            [
                Annotation.labels.through(annotation_id=a.pk, labelclass_id=c.pk)
                for a in created
                for c in wanted[a.task_id]
            ]
        )
        Task.objects.filter(pk__in=changed).update(
            state=Task.State.APPROVED,
            version=F("version") + 1,
            labeled_by=actor,
            labeled_at=now,
            leased_to=None,
            lease_expires=None,
        )
        Review.objects.bulk_create(
            [
                Review(
                    task_id=a.task_id,
                    annotation=a,
                    decision=Review.Decision.APPROVED,
                    reason="Imported",
                    task_version=tasks[a.task_id].version + 1,
                    reviewer=actor,
                )
                for a in created
            ]
        )
        PreLabel.objects.filter(task_id__in=changed).delete()
        for pk in changed:
            moves[(tasks[pk].state, Task.State.APPROVED)] += 1
            class_delta.update(dict.fromkeys(old.get(pk, ()), -1))
            class_delta.update({c.pk: 1 for c in wanted[pk]})
        report.applied += len(changed)
    moves = Counter({k: n for k, n in moves.items() if k[0] != k[1]})
    (
        stats.Tally(project.pk)
        .tasks_moved(moves)
        .labels_changed(class_delta)
        .labeler_counted(actor.pk, imported=report.applied)
        .activity_counted(report.applied, now)
        .save()
    )


def _apply_prelabels(project, actor, wanted: dict[int, list], report) -> None:
    open_ids = set(Task.objects.filter(pk__in=list(wanted), state=Task.State.UNLABELED).values_list("pk", flat=True))
    report.skipped += len(wanted) - len(open_ids)
    ids = [pk for pk in wanted if pk in open_ids]
    PreLabel.objects.filter(task_id__in=ids).delete()
    for start in range(0, len(ids), 1000):
        created = PreLabel.objects.bulk_create(
            [PreLabel(task_id=pk, source=PreLabel.Source.IMPORT, created_by=actor) for pk in ids[start : start + 1000]]
        )
        PreLabel.labels.through.objects.bulk_create(
            [PreLabel.labels.through(prelabel_id=p.pk, labelclass_id=c.pk) for p in created for c in wanted[p.task_id]]
        )
    report.applied += len(ids)


@transaction.atomic
def labels_import(*, project, actor, file, format: str, as_final: bool) -> ImportReport:
    """Import labels from a COCO, Azure ML JSON Lines or CSV file: all of it, or (on a fatal error) nothing."""
    if format not in importers.PARSERS:
        raise ValidationError("Choose COCO, JSON Lines or CSV.")
    if file.size is not None and file.size > settings.LABELSITE_IMPORT_MAX_BYTES:
        raise ValidationError(f"The file is larger than {settings.LABELSITE_IMPORT_MAX_BYTES // (1024 * 1024)} MB.")
    parsed = importers.PARSERS[format](file)
    report = ImportReport(as_final=as_final, rows=len(parsed.rows) + len(parsed.invalid))
    for line, why in parsed.invalid:
        report.refuse(REFUSED_ROW, line, "", why)
    wanted = _resolve_rows(project, parsed, report)
    report.matched = len(wanted)
    (_apply_final if as_final else _apply_prelabels)(project, actor, wanted, report)
    _import_record(project=project, actor=actor, file=file, format=format, report=report)
    return report


def _import_record(*, project, actor, file, format: str, report: ImportReport) -> None:
    """Keep the report, and tell the person who imported where to find it again."""
    report.id = uuid4()
    record = LabelImport.objects.create(
        uuid=report.id,
        project=project,
        format=format,
        as_final=report.as_final,
        file_name=(getattr(file, "name", "") or "")[:255],
        report=report.as_dict(),
        created_by=actor,
    )
    done = "labeled (approved)" if report.as_final else "given suggestions"
    problems = [f"{n:,} {text.split(':')[0]}" for text, n in report.refused_by_kind]
    notification_create_quietly(
        user_id=actor.pk,
        workspace_id=project.workspace_id,
        kind="import_finished",
        message=(
            f"Labels imported into “{project.name}”: {report.matched:,} image{pluralize(report.matched)} matched, "
            f"{report.applied:,} {done}" + (f"; refused: {', '.join(problems)}" if problems else "") + "."
        ),
        link=reverse(
            "exports:import_report",
            kwargs={
                "org": project.workspace.organization.slug,
                "ws": project.workspace.slug,
                "project": project.uuid,
                "report": record.uuid,
            },
        ),
        perm="projects.import_labels",
    )
