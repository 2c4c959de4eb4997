from fidelis.pipeline.views import contracts, opportunities, reports, stages

app_name = "pipeline"

# Mounted under /sales/ as before the split, so that bookmarks keep working. Each view module owns its patterns:
# opportunities.py the board and the opportunities; contracts.py the contracts; reports.py the pipeline report;
# stages.py the pipelines and their stages.
urlpatterns = [*opportunities.urlpatterns, *contracts.urlpatterns, *reports.urlpatterns, *stages.urlpatterns]
