"""Where rule expressions are evaluated: the Prometheus HTTP API."""

from alerting.datasource.prometheus import (
    BadData,
    PrometheusAPIError,
    PrometheusClient,
    PrometheusHTTPError,
    PrometheusUnreachable,
    QueryError,
    QueryTimeout,
    ResultTypeError,
)

__all__ = [
    "BadData",
    "PrometheusAPIError",
    "PrometheusClient",
    "PrometheusHTTPError",
    "PrometheusUnreachable",
    "QueryError",
    "QueryTimeout",
    "ResultTypeError",
]
