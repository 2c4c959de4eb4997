from django.urls import path

from fidelis.customers.views import cleanup, exports, imports, merges, profile

app_name = "customers"

urlpatterns = [
    path("", profile.customer_list, name="list"),
    path("search/", profile.customer_search, name="search"),
    path("new/", profile.customer_create, name="create"),
    path("export/", exports.customer_export, name="export"),
    path("import/", imports.import_start, name="import_start"),
    path("import/<str:public_id>/", imports.import_detail, name="import_detail"),
    path("duplicates/", merges.duplicate_list, name="duplicates"),
    path("duplicates/<int:pk>/", merges.duplicate_review, name="duplicate_review"),
    path("merges/<int:pk>/", merges.merge_detail, name="merge_detail"),
    path("cleanup/", cleanup.cleanup_list, name="cleanup"),
    path("cleanup/count/", cleanup.cleanup_tile, name="cleanup_tile"),
    path("<str:public_id>/", profile.customer_detail, name="detail"),
    path("<str:public_id>/edit/", profile.customer_edit, name="edit"),
    path("<str:public_id>/tags/", profile.tag_add, name="tag_add"),
    path("<str:public_id>/tags/<int:tag_id>/remove/", profile.tag_remove, name="tag_remove"),
    path("<str:public_id>/consent/", profile.consent_set, name="consent"),
    path("<str:public_id>/contacts/", profile.contact_add, name="contact_add"),
    path("<str:public_id>/timeline/", profile.customer_timeline, name="timeline"),
    path("<str:public_id>/panels/", profile.customer_panels, name="panels"),
    path("<str:public_id>/privacy/export/", exports.person_export, name="person_export"),
    path("<str:public_id>/restore/", cleanup.customer_restore, name="restore"),
    path("<str:public_id>/privacy/erase/", exports.person_erase, name="person_erase"),
]
