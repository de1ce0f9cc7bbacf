from __future__ import annotations

from django.apps import AppConfig


class FootfallConfig(AppConfig):
    name = "footfall_django"
    label = "footfall"
    verbose_name = "Footfall"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from footfall_django.conf import forget_config

        setting_changed.connect(forget_config)
