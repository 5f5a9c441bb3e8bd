"""``audiodiff serve``: a Gradio page and a JSON HTTP API around one warm pipeline (docs/serve.md).

Modules: :mod:`.request` (validation and caps), :mod:`.edit_request` (the Edit tab's uploads and regions),
:mod:`.engine` (the warm model and its bounded queue), :mod:`.api` (``POST /api/generate``), :mod:`.page`
(the Gradio page), :mod:`.images` (log-mel pictures) and :mod:`.server` (loading and uvicorn).  Gradio is the
optional ``serve`` extra: ``pip install 'audiodiff[serve]'``.
"""
