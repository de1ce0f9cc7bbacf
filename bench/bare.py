"""A bare endpoint on the collector's uvicorn configuration: the floor the collector is compared with."""

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/v1/events")
async def events(request: Request) -> Response:
    await request.body()
    return Response(b'{"accepted":1,"rejected":[]}', status_code=202, media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b"{}", media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", access_log=False,
                log_level="warning")
