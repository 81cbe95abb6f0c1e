from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self):
        # Imported here, not at the top: these modules load models, which Django allows once every app is loaded.
        from labeling import stats
        from review.selectors import labeler_reviews_recount

        stats.labeler_recount_register(labeler_reviews_recount)
