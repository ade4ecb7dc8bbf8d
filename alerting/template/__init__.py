"""Go text/template, rendered byte for byte as Prometheus 2.42 and Alertmanager 0.25 render it."""

from alerting.template.errors import TemplateError
from alerting.template.exec import Limits
from alerting.template.gotypes import GoError, GoFunc
from alerting.template.template import Template, parse

__all__ = ["GoError", "GoFunc", "Limits", "Template", "TemplateError", "parse"]
