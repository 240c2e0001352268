"""Running the app: audit every model first, then uvicorn with N pre-forked workers."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence

from skship.serve.models import ServeConfig, load_served, parse_model_arg

__all__ = ["serve"]


def serve(
    models: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    backend: str = "sklearn",
    workers: int = 1,
    threads: int = 1,
    trusted: Sequence[str] = (),
    max_body_bytes: int = 32 * 1024 * 1024,
    access_log: bool = False,
    log_level: str = "info",
    inline_max_bytes: int = -1,
    batch_max_rows: int = 0,
    batch_wait_us: float = 0.0,
) -> None:
    """Serve ``models`` (paths, or ``NAME=PATH``) until SIGINT/SIGTERM (graceful).

    Every file is audited and loaded once here, so a refused file stops the server before
    it listens; each worker then loads its own copy (the same audit, the same trust).
    """
    import uvicorn

    specs = tuple(parse_model_arg(m) for m in models)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        from skship.errors import InvalidArgumentError

        raise InvalidArgumentError(f"two models have the same name: {names}; use NAME=PATH")
    config = ServeConfig(
        models=specs,
        trusted=tuple(trusted),
        backend=backend,
        threads=threads,
        max_body_bytes=max_body_bytes,
        access_log=access_log,
        inline_max_bytes=inline_max_bytes,
        batch_max_rows=batch_max_rows,
        batch_wait_us=batch_wait_us,
    )
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format="%(message)s")
    from skship.serve.app import ENV_CONFIG, create_app

    if workers <= 1:
        app = create_app(config)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            loop="auto",
            http="auto",
            timeout_graceful_shutdown=10,
        )
        return
    for spec in specs:  # fail before forking, with the same error a worker would give
        load_served(spec, config.trusted, config.backend)
    os.environ[ENV_CONFIG] = json.dumps(config.to_json())
    uvicorn.run(
        "skship.serve.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        loop="auto",
        http="auto",
        timeout_graceful_shutdown=10,
    )
