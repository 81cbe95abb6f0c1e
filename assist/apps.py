from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "assist"
    verbose_name = "ML assist"

    def ready(self):
        # Imported here, not at the top: these modules load models, which Django allows once every app is loaded.
        from assist.selectors import ml_dashboard_section
        from labeling.dashboard_sections import dashboard_section_register

        dashboard_section_register(name="ml-assist", builder=ml_dashboard_section)
