"""Celery finds an app's tasks in its `tasks` module; sourcing keeps them beside the services
they call, one module per part (RFQs and quotes, evaluation and award, orders and invoices),
and registers them here by importing those modules."""

from sourcing import evaluation_tasks, order_tasks, rfq_tasks

__all__ = ["evaluation_tasks", "order_tasks", "rfq_tasks"]
