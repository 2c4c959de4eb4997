from fidelis.sales.views import (
    catalogue,
    contracts,
    imports,
    orders,
    pipeline,
    pipeline_admin,
    pipeline_reports,
    reports,
)

app_name = "sales"

# Each view module owns its patterns: catalogue.py the products, stores and categories; orders.py the orders,
# their refunds and the 360° panel; imports.py the historical order imports; reports.py the sales reports;
# pipeline.py the board and the opportunities; contracts.py the contracts; pipeline_reports.py the pipeline report;
# pipeline_admin.py the pipelines and their stages.
urlpatterns = [*orders.urlpatterns, *catalogue.urlpatterns, *imports.urlpatterns, *reports.urlpatterns,
               *pipeline.urlpatterns, *contracts.urlpatterns, *pipeline_reports.urlpatterns,
               *pipeline_admin.urlpatterns]
