from __future__ import annotations

from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "procurement"
    verbose_name = "Organisation and people"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from procurement import checks  # noqa: F401  (registers the deploy checks)
        from procurement.celery import ensure_broker_folders
        from procurement.logging import connect_celery_signals
        from procurement.security import log_failed_login
        from procurement.two_factor import note_login_second_factor

        ensure_broker_folders()
        # A task logs the request id of the request that queued it.
        connect_celery_signals()
        user_login_failed.connect(log_failed_login, dispatch_uid="security.log_failed_login")
        # Each sign-in notes in the session whether the user has an authenticator to ask for.
        user_logged_in.connect(note_login_second_factor, dispatch_uid="two_factor.note_login")
