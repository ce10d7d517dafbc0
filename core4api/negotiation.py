"""Every core4 API answers, whatever ``Accept`` says.

core4 clients send all sorts of ``Accept`` headers (browsers ``text/html``, ``EventSource``
``text/event-stream`` for the job streams, scripts none at all); refusing them with a 406
helps nobody. DRF's negotiation still picks among a view's renderers where it can (the
schema view serves YAML and JSON); where nothing matches, the view's first renderer answers —
for the core4 APIs that is the JSON envelope. Streaming views return their own
``StreamingHttpResponse`` and are not rendered.
"""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class NeverNotAcceptable(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            renderer = renderers[0]
            return renderer, renderer.media_type
