"""The demo's webhook receiver: prints each notification the engine delivers to it."""

from __future__ import annotations

import sys
import time

from aiohttp import web


async def notification(request: web.Request) -> web.Response:
    message = await request.json()
    stamp = time.strftime("%H:%M:%S")
    print(
        f"[{stamp}] NOTIFICATION to {message['receiver']}: {message['status'].upper()}"
        f" {message['groupKey']}",
        flush=True,
    )
    for alert in message["alerts"]:
        summary = alert["annotations"].get("summary", "")
        print(f"           {alert['status']:<8} {alert['labels'].get('alertname')}: {summary}")
    return web.Response(text="ok")


def main(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    app = web.Application()
    app.router.add_post("/{tail:.*}", notification)
    web.run_app(app, host=host, port=int(port), print=None, access_log=None)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9099")
