"""Fault injection rules.

A rule matches the route key `"<listener> <METHOD> <route template>"` (for example
`"cf POST /v3/service_instances"`) with a glob (default) or, when `regex` is true or the pattern starts
with `re:`, a regular expression (full match).

Kinds:
- `status`: answer `status` (default 503) with `body` (default: an error body in the listener's format) and `headers`;
- `reset`: close the TCP connection without an HTTP response;
- `delay`: sleep `delay_s` seconds, then handle the request normally;
- `rate_limit`: allow `limit` requests per `window_s` seconds, answer 429 with `Retry-After` beyond that;
- `fail_operation`: the next broker operations started by a matching request fail. `operation` narrows it by
  job operation (`service_instance.create|update|delete`, `service_keys.create|delete`); `mode` `async`
  (default: the job goes POLLING, then FAILED with CF-UnableToPerform 10009) or `sync` (FAILED with
  CF-ServiceBrokerBadResponse 10001); `message` is the broker's text, which surfaces as "Service broker error:
  Service broker <name> failed with: <message>" (observed on real SAP BTP CF, issue 13). A failed delete leaves
  the instance (with its keys) or the key in place with `last_operation` `{type: delete, state: failed}`.

`count` limits how often a rule fires (then it expires); `probability` (0..1) makes it fire randomly.
"""

import fnmatch
import itertools
import random
import re
import threading
import time

KINDS = ("status", "reset", "delay", "fail_operation", "rate_limit")
RULE_FIELDS = ("route", "kind", "status", "probability", "count", "delay_s", "body", "headers", "message",
               "operation", "mode", "limit", "window_s", "retry_after_s", "regex")


class FaultError(ValueError):
    pass


class FaultRule:
    _ids = itertools.count(1)

    def __init__(self, data):
        if not isinstance(data, dict):
            raise FaultError("a fault rule must be an object, got %r" % (data,))
        unknown = sorted(set(data) - set(RULE_FIELDS))
        if unknown:
            raise FaultError("unknown fault rule field(s): %s; valid: %s" % (", ".join(unknown), ", ".join(RULE_FIELDS)))
        self.route = str(data.get("route") or "*")
        self.kind = data.get("kind", "status")
        if self.kind not in KINDS:
            raise FaultError("fault kind must be one of %s, got %r" % (", ".join(KINDS), self.kind))
        self.status = int(data.get("status") or (429 if self.kind == "rate_limit" else 503))
        self.probability = data.get("probability")
        if self.probability is not None and not 0 <= float(self.probability) <= 1:
            raise FaultError("probability must be between 0 and 1")
        self.count = data.get("count")
        if self.count is not None and int(self.count) < 1:
            raise FaultError("count must be >= 1")
        self.delay_s = float(data.get("delay_s") or 0)
        self.body = data.get("body")
        self.headers = dict(data.get("headers") or {})
        self.message = data.get("message") or "Injected broker failure"
        self.operation = data.get("operation") or "*"
        self.mode = data.get("mode") or "async"
        if self.mode not in ("async", "sync"):
            raise FaultError("mode must be 'async' or 'sync'")
        self.limit = int(data.get("limit") or 0)
        self.window_s = float(data.get("window_s") or 1.0)
        self.retry_after_s = int(data.get("retry_after_s") or max(1, int(round(self.window_s))))
        if self.kind == "rate_limit" and self.limit < 1:
            raise FaultError("rate_limit needs limit >= 1")
        pattern = self.route
        self.regex = bool(data.get("regex")) or pattern.startswith("re:")
        if pattern.startswith("re:"):
            pattern = pattern[3:]
        try:
            self._matcher = re.compile(pattern if self.regex else fnmatch.translate(pattern))
        except re.error as exc:
            raise FaultError("bad route pattern %r: %s" % (self.route, exc)) from exc
        self.id = next(self._ids)
        self.fired = 0
        self.window = []

    def matches(self, route_key):
        return self._matcher.fullmatch(route_key) is not None

    def exhausted(self):
        return self.count is not None and self.fired >= int(self.count)

    def roll(self):
        """Decide (and record) whether the rule fires now."""
        if self.exhausted():
            return False
        if self.probability is not None and random.random() >= float(self.probability):
            return False
        self.fired += 1
        return True

    def to_dict(self):
        return {"id": self.id, "route": self.route, "kind": self.kind, "status": self.status,
                "probability": self.probability, "count": self.count, "fired": self.fired, "delay_s": self.delay_s,
                "body": self.body, "headers": self.headers, "message": self.message, "operation": self.operation,
                "mode": self.mode, "limit": self.limit, "window_s": self.window_s, "retry_after_s": self.retry_after_s,
                "regex": self.regex}


class Faults:
    """The active rule list (thread-safe)."""

    def __init__(self, rules=()):
        self._lock = threading.Lock()
        self.rules = []
        if rules:
            self.add(rules)

    def add(self, rules):
        parsed = [FaultRule(r) for r in rules]
        with self._lock:
            self.rules.extend(parsed)
        return parsed

    def clear(self):
        with self._lock:
            self.rules = []

    def list(self):
        with self._lock:
            return [r.to_dict() for r in self.rules]

    def for_request(self, route_key):
        """Actions for one request: a list of ("delay", s) plus at most one terminal ("status"|"reset"|"rate_limit", rule)."""
        actions = []
        now = time.monotonic()
        with self._lock:
            for rule in self.rules:
                if rule.kind == "fail_operation" or not rule.matches(route_key):
                    continue
                if rule.kind == "rate_limit":
                    rule.window = [t for t in rule.window if now - t < rule.window_s]
                    if len(rule.window) >= rule.limit:
                        rule.fired += 1
                        actions.append(("rate_limit", rule))
                        break
                    rule.window.append(now)
                    continue
                if not rule.roll():
                    continue
                if rule.kind == "delay":
                    actions.append(("delay", rule.delay_s))
                    continue
                actions.append((rule.kind, rule))
                break
            self.rules = [r for r in self.rules if not r.exhausted()]
        return actions

    def take_operation_failure(self, route_key, operation):
        """The fail_operation rule that applies to this broker operation (consumed), or None."""
        with self._lock:
            for rule in self.rules:
                if rule.kind != "fail_operation":
                    continue
                if route_key is not None and not rule.matches(route_key):
                    continue
                if not fnmatch.fnmatchcase(operation, rule.operation):
                    continue
                if rule.roll():
                    self.rules = [r for r in self.rules if not r.exhausted()]
                    return rule
        return None
