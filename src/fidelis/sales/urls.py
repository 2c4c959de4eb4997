from fidelis.sales.views import catalogue, imports, orders, reports

app_name = "sales"

# Each view module owns its patterns: catalogue.py the products, stores and categories; orders.py the orders,
# their refunds and the 360° panel; imports.py the historical order imports; reports.py the sales reports.
# The pipeline (fidelis.pipeline.urls) is mounted under the same /sales/ prefix.
urlpatterns = [*orders.urlpatterns, *catalogue.urlpatterns, *imports.urlpatterns, *reports.urlpatterns]
