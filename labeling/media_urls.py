"""The item media URLs. Outside the `labeling` namespace: `item_thumbnail` and `item_image` name workspace URLs."""

from django.urls import path

from labeling import media_views

W = "o/<slug:org>/<slug:ws>/"

urlpatterns = [
    path(W + "items/<uuid:item>/thumbnail/", media_views.item_thumbnail, name="item_thumbnail"),
    path(W + "items/<uuid:item>/image/", media_views.item_image, name="item_image"),
]
