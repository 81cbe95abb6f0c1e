"""Start the whole product in one terminal: web server, Celery worker and Celery beat. Ctrl-C stops all."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from core.features import ml_available, ml_unavailable_reason


class Command(BaseCommand):
    help = "Run web, worker and beat together (development and single-machine use)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=settings.LABELSITE_ADDR)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, addr, concurrency, **options):
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "labelsite"]
        commands = {
            "web": [python, "manage.py", "runserver", addr, "--noreload"]
            if settings.DEBUG
            else [python, "-m", "gunicorn", "labelsite.wsgi", "--bind", addr, "--workers", "3"],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)],
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(settings.LABELSITE_DATA_DIR / "celerybeat-schedule"),
            ],
        }
        if ml_available():
            # ML assist's own worker: one process that keeps the model loaded, on its own queue.
            commands["ml-worker"] = [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--queues",
                "ml",
                "--concurrency",
                "1",
                "--include",
                "assist.worker",
                "--hostname",
                "ml@%h",
            ]
        else:
            self.stdout.write(ml_unavailable_reason())
        processes = {}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, start_new_session=True)
            self.stdout.write(f"started {name} (pid {processes[name].pid})")
        self.stdout.write(self.style.SUCCESS(f"Labelsite is running at http://{addr}/ — Ctrl-C stops everything."))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with status {process.returncode}; stopping the rest.")
                        stopping = True
                time.sleep(0.5)
        finally:
            # Each leader shuts its own children down (Celery's warm shutdown finishes running tasks).
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.time() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            self.stdout.write("stopped.")
