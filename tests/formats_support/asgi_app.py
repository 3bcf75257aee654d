"""A tiny ASGI app for tests/formats.rs, served by the real uvicorn: `/` answers 200,
`/missing` 404, `/boom` raises (uvicorn logs the traceback and answers 500)."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/boom":
        raise ValueError("boom: the model server went away")
    status = 404 if path == "/missing" else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok\n"})
