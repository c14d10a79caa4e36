"""Admin API (not counted, no fault injection).

GET    /requests          {"total": N, "by_route": {"<listener> <METHOD> <route template>": N}}
POST   /requests/reset    zero the counters
GET    /faults            active fault rules
POST   /faults            add rules (a JSON list of rules, or one rule object); returns the stored rules
DELETE /faults            remove every rule
GET    /state             instances, keys, jobs, tokens issued and MPL counts (secrets masked)
POST   /seed              create instances without broker validation (same format as config `seed_instances`)
GET    /apiportal/providers  API providers of every tenant (secrets as fingerprints), read cache bypassed
GET    /health            {"status": "UP"}
"""

from flask import Flask, jsonify, request

from .faults import FaultError


def create_app(sandbox):
    app = Flask("btp_sandbox.admin")

    @app.route("/health", methods=["GET"])
    def health():
        return jsonify({"status": "UP", "profile": sandbox.config.profile.name})

    @app.route("/requests", methods=["GET"])
    def requests_get():
        return jsonify(sandbox.request_stats())

    @app.route("/requests/reset", methods=["POST"])
    def requests_reset():
        sandbox.reset_counts()
        return jsonify(sandbox.request_stats())

    @app.route("/faults", methods=["GET"])
    def faults_get():
        return jsonify(sandbox.faults.list())

    @app.route("/faults", methods=["POST"])
    def faults_post():
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list):
            return jsonify({"error": "expected a JSON list of fault rules"}), 400
        try:
            added = sandbox.faults.add(body)
        except (FaultError, TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify([rule.to_dict() for rule in added]), 201

    @app.route("/faults", methods=["DELETE"])
    def faults_delete():
        sandbox.faults.clear()
        return "", 204

    @app.route("/state", methods=["GET"])
    def state():
        data = sandbox.store.dump()
        data["faults"] = sandbox.faults.list()
        data["requests"] = sandbox.request_stats()
        return jsonify(data)

    @app.route("/apiportal/providers", methods=["GET"])
    def apiportal_providers():
        from .apiportal import admin_view  # pylint: disable=import-outside-toplevel
        return jsonify(admin_view(sandbox))

    @app.route("/seed", methods=["POST"])
    def seed():
        from .cf_api import SeedError, seed_instance  # pylint: disable=import-outside-toplevel
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list):
            return jsonify({"error": "expected a JSON list of instance seeds"}), 400
        try:
            created = [seed_instance(sandbox, item) for item in body]
        except SeedError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify(created), 201

    return app
