"""Running the app: audit every model first, then uvicorn with N pre-forked workers."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from skship.serve.models import ServeConfig, parse_model_arg

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
    onnx_cache: str = "",
    sklearn_plan: str = "auto",
) -> None:
    """Serve ``models`` (paths, or ``NAME=PATH``) until SIGINT/SIGTERM (graceful).

    Every file is audited and loaded once here, so a refused file stops the server before
    it listens. With ``workers > 1`` the backend is chosen here too (an ONNX conversion is
    made and verified once, ``auto`` times both backends once) and each worker loads its
    own copy of the model (the same audit, the same trust) with the parent's choice.
    ``sklearn_plan`` (``auto`` | ``off``): whether the sklearn backend runs a verified
    execution plan instead of calling the model (``skship.serve.plan``).
    """
    import uvicorn

    from skship.serve.backends import SKLEARN_PLANS

    if sklearn_plan not in SKLEARN_PLANS:
        from skship.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"--sklearn-plan {sklearn_plan!r}: choose one of {', '.join(SKLEARN_PLANS)}"
        )
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
        onnx_cache=onnx_cache,
        sklearn_plan=sklearn_plan,
    )
    import logging.config

    from skship.serve.logs import log_config

    logs = log_config(log_level)  # every line on stderr a JSON object, here and in workers
    logging.config.dictConfig(logs)
    from skship.serve.app import ENV_CONFIG, ENV_LOG_LEVEL, create_app
    from skship.serve.protocol import http_protocol

    # uvicorn's settings, the same for one process and for N workers
    run_options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": logs,
        "access_log": False,
        "loop": "auto",
        "http": http_protocol(),  # httptools, each response in one write
        "timeout_graceful_shutdown": 10,
    }
    if workers <= 1:
        uvicorn.run(create_app(config), **run_options)
        return
    import shutil
    import tempfile

    from skship.serve.metrics import ENV_METRICS_DIR, write_snapshot
    from skship.serve.models import prepare_workers

    # One directory for what the workers share: the verified ONNX conversions the parent
    # made (each model is converted once, not once per worker) and each process's metric
    # snapshots (so /metrics on any worker reports the totals).
    workdir = tempfile.mkdtemp(prefix="skship-serve-")
    metrics_dir = os.path.join(workdir, "metrics")
    os.mkdir(metrics_dir)
    previous = os.environ.get(ENV_METRICS_DIR)
    os.environ[ENV_METRICS_DIR] = metrics_dir
    try:
        # audit, load and choose backends here: a refused file stops the server before it
        # forks, with the same error a worker would give
        prepared = prepare_workers(config, workdir)
        write_snapshot(metrics_dir)  # the conversions the parent ran, summed into /metrics
        logging.getLogger("skship.serve").info(
            json.dumps(
                {
                    "event": "server.workers",
                    "workers": workers,
                    "pid": os.getpid(),
                    "workdir": workdir,
                }
            )
        )
        os.environ[ENV_CONFIG] = json.dumps(prepared.to_json())
        os.environ[ENV_LOG_LEVEL] = log_level
        uvicorn.run(
            "skship.serve.app:create_app_from_env",
            factory=True,
            workers=workers,
            **run_options,
        )
    finally:
        if previous is None:
            os.environ.pop(ENV_METRICS_DIR, None)
        else:
            os.environ[ENV_METRICS_DIR] = previous
        shutil.rmtree(workdir, ignore_errors=True)
