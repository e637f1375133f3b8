from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers/", views.CustomerListCreateView.as_view(), name="customer-list"),
    path("customers/<uuid:public_id>/", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("segments/", views.SegmentListView.as_view(), name="segment-list"),
]
