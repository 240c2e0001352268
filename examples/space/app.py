"""The skship model-card app as a Hugging Face Space (Gradio SDK).

The Space runs ``python app.py``; Gradio's Space runtime sets the host and port
(GRADIO_SERVER_NAME / GRADIO_SERVER_PORT), locally it listens on 127.0.0.1:7860.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from skship.card.app import build

demo = build()

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        footer_links=[],
        ssr_mode=False,
    )
