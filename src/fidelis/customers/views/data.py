from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


customer_export = import_start = import_detail = duplicate_list = duplicate_review = merge_detail = _todo
person_export = person_erase = _todo
