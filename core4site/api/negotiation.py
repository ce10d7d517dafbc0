"""Every core4 API answers in its JSON envelope, whatever ``Accept`` says.

core4 clients send all sorts of ``Accept`` headers (browsers ``text/html``, ``EventSource``
``text/event-stream`` for the job streams, scripts none at all); refusing them with a 406 helps
nobody. Streaming views return their own ``StreamingHttpResponse`` and are not rendered.
"""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class AlwaysJSON(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
