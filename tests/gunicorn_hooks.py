"""gunicorn settings for the tests' servers (tests/workers.py ServerProcess): only a line that says a worker
is ready to serve, the application loaded."""


def post_worker_init(worker) -> None:
    worker.log.info("application loaded in worker %s", worker.pid)
