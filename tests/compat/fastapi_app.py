"""A FastAPI service instrumented by prometheus-fastapi-instrumentator, on the facade.

``install()`` runs before anything imports prometheus_client, so the
instrumentator's metrics and the service's own are the facade's. Served by
uvicorn in tests/compat/test_frameworks.py.
"""

import atomicmetrics.prometheus_client

atomicmetrics.prometheus_client.install()

import prometheus_client  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from prometheus_fastapi_instrumentator import Instrumentator  # noqa: E402

app = FastAPI()
ORDERS = prometheus_client.Counter("shop_orders", "Orders placed.", ["kind"])


@app.get("/items/{item_id}")
def item(item_id: int) -> dict[str, int]:
    if item_id == 0:
        raise HTTPException(status_code=404, detail="no such item")
    ORDERS.labels("item").inc()
    return {"id": item_id}


@app.get("/which")
def which() -> dict[str, str]:
    return {"prometheus_client": prometheus_client.__name__}


Instrumentator().instrument(app).expose(app)
