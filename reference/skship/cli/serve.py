"""Top-level `skship serve`: audit the models, then serve them over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer


def register(root: typer.Typer) -> None:
    """Add `skship serve` to the root command."""

    @root.command("serve")
    def serve(
        models: Annotated[
            list[str],
            typer.Argument(help="Model files to serve: PATH (named after the file) or NAME=PATH."),
        ],
        host: Annotated[
            str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
        backend: Annotated[
            str,
            typer.Option(
                help="sklearn; onnx (onnxruntime on a conversion verified at start-up); "
                "auto (both timed at start-up, the faster kept; sklearn when the model does "
                "not convert or verify). The choice is in the model metadata."
            ),
        ] = "sklearn",
        workers: Annotated[
            int,
            typer.Option(
                help="Worker processes (pre-forked; about one per core). Backends are "
                "chosen once, in the parent; /metrics sums every worker."
            ),
        ] = 1,
        threads: Annotated[int, typer.Option(help="Prediction threads per worker.")] = 1,
        trust: Annotated[
            list[str] | None,
            typer.Option("--trust", help="Trust one more type or function by name (repeatable)."),
        ] = None,
        policy: Annotated[
            str | None,
            typer.Option(help="File of trusted names (one per line, or JSON {'trusted': [...]})."),
        ] = None,
        max_body_mb: Annotated[float, typer.Option(help="Largest request body, in MiB.")] = 32.0,
        inline_max_kb: Annotated[
            float,
            typer.Option(
                help="Handle bodies up to this size on the event loop, not the prediction "
                "thread (0: never; -1: automatic: bodies up to 16 KiB for models whose small "
                "predictions take under 0.3 ms (1 ms with one prediction thread), and, with "
                "one prediction thread, bodies up "
                "to 256 KiB whose predictions cost under 1 ms of CPU)."
            ),
        ] = -1,
        access_log: Annotated[bool, typer.Option(help="Log every request as a JSON line.")] = False,
        batch_max_rows: Annotated[
            int,
            typer.Option(
                help="Micro-batching: concurrent requests for one model share one predict "
                "call of up to this many rows (0: off)."
            ),
        ] = 0,
        batch_wait_us: Annotated[
            float,
            typer.Option(
                help="Micro-batching: an idle model waits this long for more requests before "
                "predicting (0: adaptive, batch only what queued while it was busy)."
            ),
        ] = 0.0,
        onnx_cache: Annotated[
            str | None,
            typer.Option(
                help="Directory of verified ONNX conversions, keyed by the file's sha256 and "
                "the library versions: a restart loads them instead of converting. Keep it "
                "as trusted as the model files."
            ),
        ] = None,
        sklearn_plan: Annotated[
            str,
            typer.Option(
                help="auto: the sklearn backend runs Pipelines and ColumnTransformers as a "
                "plan of their fitted steps on numpy arrays (no DataFrame), kept only when "
                "it gives exactly the model's answers on probe rows at start-up; off: call "
                "the model itself."
            ),
        ] = "auto",
    ) -> None:
        """Serve .skops models (OIP v2, SageMaker, Hugging Face), audited at start-up."""
        from skship.errors import SkshipError
        from skship.serve.models import read_policy
        from skship.serve.server import serve as run

        trusted = list(trust or [])
        try:
            if policy is not None:
                trusted += read_policy(policy)
            run(
                models,
                host=host,
                port=port,
                backend=backend,
                workers=workers,
                threads=threads,
                trusted=trusted,
                max_body_bytes=int(max_body_mb * 1024 * 1024),
                access_log=access_log,
                inline_max_bytes=int(inline_max_kb * 1024),
                batch_max_rows=batch_max_rows,
                batch_wait_us=batch_wait_us,
                onnx_cache=onnx_cache or "",
                sklearn_plan=sklearn_plan,
            )
        except (SkshipError, OSError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
