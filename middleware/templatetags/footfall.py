"""`{% load footfall %}{% footfall_tracker %}`: the browser tracker's <script>, and for a logged-in user a
short-lived signed token, so that the collector knows who the learner is without taking the browser's word."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from footfall import tokens
from footfall_django.conf import get_config

register = template.Library()


@register.simple_tag(takes_context=True)
def footfall_tracker(context: dict[str, Any], **attributes: Any) -> SafeString:
    config = get_config()
    if not config.public_key:
        raise template.TemplateSyntaxError("footfall_tracker needs FOOTFALL['PUBLIC_KEY']")
    extra = ""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        token = tokens.issue(config.secret, str(user.pk), user.get_username(), ttl_s=config.token_ttl_s)
        extra += format_html(' data-user-token="{}"', token)
    for name, value in attributes.items():  # e.g. disable="ping", respect_dnt="true"
        extra += format_html(' data-{}="{}"', name.replace("_", "-"), value)
    return format_html('<script async src="{}/footfall.js" data-key="{}" data-collector="{}"{}></script>',
                       config.collector_url, config.public_key, config.collector_url, SafeString(extra))
