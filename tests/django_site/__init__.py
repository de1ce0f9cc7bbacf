"""A small real Django site for the middleware's tests (run in-process and as gunicorn/uvicorn servers)."""
