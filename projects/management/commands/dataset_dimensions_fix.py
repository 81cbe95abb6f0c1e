"""Record as displayed the width and height of items registered before sizes followed the EXIF orientation."""

from django.core.management.base import BaseCommand

from projects.datastores import scanning
from projects.datastores import storage as ds
from projects.models import Dataset


class Command(BaseCommand):
    help = (
        "Re-read the image headers of every dataset (or the given ones) and swap width and height of items "
        "that are shown turned by their EXIF orientation. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("datasets", nargs="*", metavar="DATASET_UUID", help="Only these datasets.")

    def handle(self, *args, datasets, **options):
        found = Dataset.objects.select_related("datastore").order_by("pk")
        if datasets:
            found = found.filter(uuid__in=datasets)
        for dataset in found:
            try:
                changed = scanning.dataset_dimensions_fix(dataset=dataset)
            except ds.DatastoreError as error:
                self.stderr.write(f"{dataset.uuid} {dataset.name}: not reachable: {error.message_text}")
                continue
            self.stdout.write(f"{dataset.uuid} {dataset.name}: {changed} item(s) now recorded as displayed")
