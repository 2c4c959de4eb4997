from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


customer_list = customer_search = customer_create = customer_detail = customer_edit = _todo
tag_add = tag_remove = consent_set = contact_add = customer_timeline = _todo
