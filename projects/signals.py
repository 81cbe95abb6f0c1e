"""Signals projects sends so that apps to its right can react without projects importing them."""

from django.dispatch import Signal

# Sent (inside the registering transaction, receivers should use transaction.on_commit) after a
# scan or refresh registered new READY items in a dataset. Keyword argument: dataset.
items_registered = Signal()

# Sent after items of a dataset disappeared from storage and were marked MISSING. Keyword: dataset.
items_missing = Signal()

# Sent inside the creating transaction after the wizard created a project and its label classes;
# labeling reacts (on commit) by creating the project's tasks. Keyword argument: project.
project_created = Signal()
