from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


user_list = user_edit = token_list = token_revoke = audit_log = _todo
