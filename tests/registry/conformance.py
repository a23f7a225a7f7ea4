#!/usr/bin/env python3
"""REST conformance checks for a Confluent-compatible Schema Registry.

    python3 tests/registry/conformance.py URL [--verbose] [--keep] [--only SECTION,...]
    python3 tests/registry/conformance.py --list

Checks every endpoint of the Confluent Schema Registry REST API that issue 12 names, with good
and bad input, on the status code AND the body's `error_code` both, and prints one line per check
and a summary (`N checks, M failed`); exits 1 on a failure, 2 when the registry cannot be reached.
Stdlib only (urllib, json), so it needs no virtualenv.

Every subject it makes starts with a prefix unique to the run (`rill-conf-<hex>-`), every schema
carries that run's tag in its namespace or title, and it deletes its subjects (soft, then
permanent) and restores the global compatibility level and mode it found before it exits, so it
can run twice, or beside other users, on one registry. It changes the global config for a moment
(PUT then DELETE /config) and puts only its own subjects in READONLY or IMPORT mode.

Where each expectation comes from is cited beside the check: a test method of Confluent's
schema-registry repository (core/src/test/java/io/confluent/kafka/schemaregistry/rest/
RestApiTest.java and its siblings RestApiModeTest, RestApiCompatibilityTest,
RestApiTransitiveCompatibilityTest, json/RestApiTest), a resource class of
core/src/main/java/.../rest/resources/ (SubjectVersionsResource, SubjectsResource,
SchemasResource, ConfigResource, ModeResource, CompatibilityResource), or the API reference
(docs.confluent.io, "Schema Registry API Reference"). Only the test *cases* are taken from
Confluent's tests (as data); nothing of their code.
"""
import argparse
import http.client
import json
import random
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

V1 = "application/vnd.schemaregistry.v1+json"
SR_JSON = "application/vnd.schemaregistry+json"
JSON_CT = "application/json"
OCTET = "application/octet-stream"

# The endpoints and the statuses / error codes the checks expect of them. --list prints this
# table, and a run ends with a check that the checks it made are exactly the table's entries,
# so the table cannot drift from the code.
COVERAGE = [
    ("GET /", ["200"]),
    ("GET /schemas/types", ["200"]),
    ("GET /schemas/ids/{id}", ["200", "404/40403"]),
    ("GET /schemas/ids/{id}?subject=", ["200"]),
    ("GET /schemas/ids/{id}/schema", ["200", "404/40403"]),
    ("GET /schemas/ids/{id}/subjects", ["200", "404/40403"]),
    ("GET /schemas/ids/{id}/versions", ["200", "404/40403"]),
    ("GET /subjects", ["200"]),
    ("GET /subjects?deleted=true", ["200"]),
    ("GET /subjects?subjectPrefix=", ["200"]),
    ("POST /subjects/{s}", ["200", "404/40401", "404/40403", "422/42201"]),
    ("POST /subjects/{s}?normalize=true", ["200"]),
    ("POST /subjects/{s}?deleted=true", ["200"]),
    ("DELETE /subjects/{s}", ["200", "404/40401", "404/40404", "422/42206"]),
    ("DELETE /subjects/{s}?permanent=true", ["200", "404/40401", "404/40405"]),
    ("GET /subjects/{s}/versions", ["200", "404/40401"]),
    ("GET /subjects/{s}/versions?deleted=true", ["200"]),
    ("POST /subjects/{s}/versions", ["200", "400/400", "409/40901", "422/42201", "422/42205"]),
    ("POST /subjects/{s}/versions?normalize=true", ["200"]),
    ("POST /subjects/{s}/versions?normalize=False", ["200"]),
    ("GET /subjects/{s}/versions/{v}", ["200", "404/40401", "404/40402", "422/42202"]),
    ("GET /subjects/{s}/versions/{v}?deleted=true", ["200"]),
    ("GET /subjects/{s}/versions/{v}/schema", ["200", "404/40402", "422/42202"]),
    ("GET /subjects/{s}/versions/{v}/referencedby", ["200", "404/40401", "404/40402", "422/42202"]),
    ("DELETE /subjects/{s}/versions/{v}",
     ["200", "404/40401", "404/40402", "404/40406", "422/42202", "422/42205", "422/42206"]),
    ("DELETE /subjects/{s}/versions/{v}?permanent=true", ["200", "404/40402", "404/40407"]),
    ("POST /compatibility/subjects/{s}/versions/{v}",
     ["200", "404/40402", "422/42201", "422/42202"]),
    ("POST /compatibility/subjects/{s}/versions/{v}?verbose=true", ["200"]),
    ("POST /compatibility/subjects/{s}/versions", ["200"]),
    ("POST /compatibility/subjects/{s}/versions?verbose=true", ["200"]),
    ("GET /config", ["200"]),
    ("PUT /config", ["200", "422/42203"]),
    ("DELETE /config", ["200"]),
    ("GET /config/{s}", ["200", "404/40408"]),
    ("GET /config/{s}?defaultToGlobal=true", ["200"]),
    ("PUT /config/{s}", ["200", "422/42203"]),
    ("DELETE /config/{s}", ["200", "404/40401"]),
    ("GET /mode", ["200"]),
    ("PUT /mode", ["200", "422/42204"]),
    ("GET /mode/{s}", ["200", "404/40409"]),
    ("GET /mode/{s}?defaultToGlobal=true", ["200"]),
    ("PUT /mode/{s}", ["200", "422/42204"]),
    ("DELETE /mode/{s}", ["200", "404/40401"]),
    ("GET /no-such-resource", ["404"]),
    ("GET /associations/resources/-/{topic}", ["404 or 200"]),
]

SECTIONS = ["basics", "register", "schemas", "lookup", "versions", "delete", "subjects",
            "references", "compat", "json", "config", "mode", "import"]


class Resp:
    """One HTTP exchange: status, content type, body text and the body parsed as JSON (or None)."""

    def __init__(self, method, path, status, ctype, text):
        self.method, self.path, self.status = method, path, status
        self.ctype, self.text = ctype, text
        try:
            self.json = json.loads(text) if text else None
        except ValueError:
            self.json = None

    def short(self):
        body = self.text if len(self.text) <= 300 else self.text[:300] + "..."
        return "%s %s -> %d %s" % (self.method, self.path, self.status, body.replace("\n", " "))


class Registry:
    """A thin urllib client; every call returns a Resp, HTTP errors included."""

    def __init__(self, base, timeout):
        self.base = base.rstrip("/")
        self.timeout = timeout

    def call(self, method, path, body=None, ctype=V1, accept=None, raw=None):
        data = None
        headers = {}
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = ctype
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return Resp(method, path, r.status, r.headers.get("Content-Type", ""),
                            r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Resp(method, path, e.code, e.headers.get("Content-Type", ""),
                        e.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            # No HTTP answer (refused, reset, timeout, a malformed response): status 0, so the
            # check fails with the reason and the run goes on.
            return Resp(method, path, 0, "", "no HTTP response: %s: %s" % (type(e).__name__, e))


def eq(want):
    """A body test: the body equals `want`."""
    return lambda r: r.json == want or "got %r, want %r" % (r.json, want)


def field(key, want):
    """A body test: the body is an object whose `key` equals `want`."""
    return lambda r: r.json.get(key) == want or "got %r, want %s=%r" % (r.json, key, want)


def q(s):
    """A subject (or version) as one path segment."""
    return urllib.parse.quote(str(s), safe="")


class Suite:
    def __init__(self, reg, verbose):
        self.reg = reg
        self.verbose = verbose
        self.results = []  # (ok, line)
        self.covered = set()  # (endpoint, "status" or "status/code")
        self.tag = uuid.uuid4().hex[:10]
        self.prefix = "rill-conf-%s-" % self.tag
        self.ns = "rill.conf.r" + self.tag
        self.subjects = []

    # ---------------------------------------------------------------- helpers ---

    def subject(self, name):
        s = self.prefix + name
        if s not in self.subjects:
            self.subjects.append(s)
        return s

    def avro(self, name, fields, ns=None, extra=None):
        """An Avro record schema as a string; fields are (name, type) or (name, type, default)."""
        fs = []
        for f in fields:
            d = {"name": f[0], "type": f[1]}
            if len(f) > 2:
                d["default"] = f[2]
            fs.append(d)
        rec = {"type": "record", "name": name, "namespace": ns or self.ns, "fields": fs}
        if extra:
            rec.update(extra)
        return json.dumps(rec)

    def check(self, name, ep, resp, status, code=None, test=None, cite=""):
        """Expect `status` (and for an error, `error_code` == code and a string `message`),
        then `test(resp)`, which returns True, or False / a string saying what is wrong."""
        self.covered.add((ep, "%d/%d" % (status, code) if code is not None else str(status)))
        why = None
        if resp.status != status:
            why = "status %d, want %d" % (resp.status, status)
        elif code is not None:
            body = resp.json
            if not isinstance(body, dict) or body.get("error_code") != code:
                got = body.get("error_code") if isinstance(body, dict) else None
                why = "error_code %r, want %d" % (got, code)
            elif not isinstance(body.get("message"), str):
                why = "error body has no string message"
        if why is None and test is not None:
            try:
                r = test(resp)
            except Exception as e:  # a malformed body is a failure, not a crash
                r = "%s: %s" % (type(e).__name__, e)
            if r is not True:
                why = r if isinstance(r, str) else "body check failed"
        ok = why is None
        line = ("ok   " if ok else "FAIL ") + name
        if not ok:
            line += "\n       " + why + "\n       " + resp.short()
            if cite:
                line += "\n       (" + cite + ")"
        elif self.verbose:
            line += "  [" + resp.short()[:160] + "]"
        self.results.append((ok, line))
        print(line, flush=True)
        return ok

    def steps(self, rows):
        """Run a table of exchanges in order, each checked as by check():
        (name, method, path, body, endpoint, status, error_code, test, cite)."""
        for name, method, path, body, ep, status, code, test, cite in rows:
            self.check(name, ep, self.reg.call(method, path, body), status, code, test, cite)

    def note(self, ok, name, why=""):
        """A check that is not one HTTP exchange (cross-request facts)."""
        line = ("ok   " if ok else "FAIL ") + name + ("" if ok else "\n       " + why)
        self.results.append((ok, line))
        print(line, flush=True)
        return ok

    def register(self, subject, schema, schema_type=None, refs=None, query="", extra=None,
                 ctype=V1):
        body = {"schema": schema}
        if schema_type:
            body["schemaType"] = schema_type
        if refs:
            body["references"] = refs
        if extra:
            body.update(extra)
        return self.reg.call("POST", "/subjects/%s/versions%s" % (q(subject), query), body,
                             ctype=ctype)

    def must_id(self, resp):
        """The id of a successful registration, or None."""
        body = resp.json
        if resp.status == 200 and isinstance(body, dict) and isinstance(body.get("id"), int):
            return body["id"]
        return None

    # ----------------------------------------------------------------- basics ---

    def basics(self):
        r = self.reg.call("GET", "/")
        # RootResource: GET / answers 200 with an empty JSON object.
        self.check("GET / answers 200", "GET /", r, 200, cite="RootResource")
        r = self.reg.call("GET", "/schemas/types")
        # RestApiTest.testGetSchemaTypes (Confluent also lists PROTOBUF; Rill needs AVRO, JSON).
        self.check("GET /schemas/types lists AVRO and JSON", "GET /schemas/types", r, 200,
                   test=lambda r: isinstance(r.json, list) and {"AVRO", "JSON"} <= set(r.json),
                   cite="RestApiTest.testGetSchemaTypes")
        # Content types: API reference "Content Types": responses are
        # application/vnd.schemaregistry.v1+json; Accept of the v1 type, of
        # application/vnd.schemaregistry+json or of application/json is served.
        r = self.reg.call("GET", "/subjects")
        self.check("GET /subjects without Accept: content type %s" % V1, "GET /subjects", r, 200,
                   test=lambda r: r.ctype.split(";")[0].strip() == V1 or "got " + r.ctype,
                   cite="API reference, Content Types")
        r = self.reg.call("GET", "/subjects", accept=V1)
        self.check("GET /subjects with Accept %s: same type back" % V1, "GET /subjects", r, 200,
                   test=lambda r: r.ctype.split(";")[0].strip() == V1 or "got " + r.ctype,
                   cite="API reference, Content Types")
        for acc in (SR_JSON, JSON_CT):
            r = self.reg.call("GET", "/subjects", accept=acc)
            self.check("GET /subjects with Accept %s: 200, a JSON type" % acc, "GET /subjects", r,
                       200, test=lambda r: r.ctype.split(";")[0].strip() in (V1, SR_JSON, JSON_CT)
                       and isinstance(r.json, list) or "got " + r.ctype,
                       cite="API reference, Content Types; SubjectVersionsResource @Produces")
        r = self.reg.call("GET", "/subjects/%s/versions" % q(self.prefix + "never"))
        self.check("an error body is JSON of type %s" % V1, "GET /subjects/{s}/versions", r, 404,
                   40401, test=lambda r: r.ctype.split(";")[0].strip() == V1 or "got " + r.ctype,
                   cite="API reference, Errors")
        r = self.reg.call("GET", "/no-such-resource-" + self.tag)
        self.check("an unknown path is 404", "GET /no-such-resource", r, 404,
                   cite="API reference, Errors")
        # confluent-kafka 2.16's serializers ask for the topic's associations before they fall
        # back to the subject name strategy, and go on only after a 404 (any error_code) or an
        # answer (schema_registry/_sync/serde.py); any other status fails every produce.
        ep = "GET /associations/resources/-/{topic}"
        self.covered.add((ep, "404 or 200"))
        r = self.reg.call("GET", "/associations/resources/-/%s?resourceType=topic"
                          "&associationType=value" % q(self.prefix + "topic"))
        self.note(r.status == 404 or (r.status == 200 and r.json == []),
                  "%s (asked by confluent-kafka's serializers): 404, or 200 []" % ep, r.short())

    # --------------------------------------------------------------- register ---

    def register_section(self):
        a, b = self.subject("reg-a"), self.subject("reg-b")
        s1 = self.avro("Reg", [("f1", "string")])
        r = self.register(a, s1)
        self.check("register a new Avro schema: 200 {id}", "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: isinstance(r.json.get("id"), int),
                   cite="API reference POST /subjects/{s}/versions")
        id1 = self.must_id(r)
        r = self.register(a, s1)
        self.check("register it again: the same id (idempotent)", "POST /subjects/{s}/versions", r,
                   200, test=lambda r: r.json.get("id") == id1 or "id %r, want %r" % (
                       r.json.get("id"), id1), cite="RestApiTest.testCanonicalization")
        spaced = json.dumps(json.loads(s1), indent=3)
        r = self.register(a, spaced)
        self.check("register it with other whitespace: the same id",
                   "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json.get("id") == id1, cite="RestApiTest.testCanonicalization")
        r = self.reg.call("GET", "/subjects/%s/versions" % q(a))
        self.check("the subject still has one version: [1]", "GET /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json == [1] or "versions %r" % r.json,
                   cite="RestApiTest.testCanonicalization")
        r = self.register(b, s1)
        self.check("the same schema in a second subject gets the same global id",
                   "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json.get("id") == id1 or "id %r, want %r" % (
                       r.json.get("id"), id1),
                   cite="RestApiTest.testRegisterSameSchemaOnDifferentSubject")
        for ct in (JSON_CT, SR_JSON, OCTET):
            r = self.register(a, s1, ctype=ct)
            # SubjectVersionsResource @Consumes: v1+json, schemaregistry+json, json, and
            # GENERIC_REQUEST (application/octet-stream).
            self.check("a request with Content-Type %s is accepted" % ct,
                       "POST /subjects/{s}/versions", r, 200,
                       test=lambda r: r.json.get("id") == id1,
                       cite="SubjectVersionsResource @Consumes")
        r = self.register(a, s1, query="?normalize=False")
        # confluent-kafka 2.16 sends Python's spelling of false; Confluent parses it as false.
        self.check("?normalize=False (as confluent-kafka sends it) is accepted",
                   "POST /subjects/{s}/versions?normalize=False", r, 200,
                   test=lambda r: r.json.get("id") == id1,
                   cite="confluent-kafka 2.16 register_schema; JAX-RS boolean parameters")
        r = self.register(a, self.avro("Reg", [("f1", "string")]), schema_type="AVRO")
        self.check("schemaType AVRO said explicitly is the default's schema: same id",
                   "POST /subjects/{s}/versions", r, 200, test=lambda r: r.json.get("id") == id1,
                   cite="API reference: schemaType defaults to AVRO")

        bad = self.subject("reg-bad")
        cases = [
            ("an unknown field type ('str')",
             json.dumps({"type": "record", "name": "myrecord", "namespace": self.ns,
                         "fields": [{"type": "str", "name": "field1"}]}),
             "RestApiTest.testRegisterInvalidSchemaBadType"),
            ("a schema that is not JSON", "non-avro schema string",
             "RestApiCompatibilityTest.testCompatibility"),
            ("a bad record type ('bad-record')",
             json.dumps({"type": "bad-record", "name": "myrecord", "namespace": self.ns,
                         "fields": [{"type": "string", "name": "f"}]}),
             "RestApiTest.testBad (TestUtils.getBadSchema)"),
            ("a default that does not match its type (string, null)",
             json.dumps({"type": "record", "name": "myrecord", "namespace": self.ns,
                         "fields": [{"type": "string", "default": None, "name": "f"}]}),
             "RestApiTest.testRegisterBadDefault"),
            ("an empty schema string", "", "AbstractSchemaRegistry: 'Empty schema'"),
        ]
        for what, schema, cite in cases:
            r = self.register(bad, schema)
            self.check("register %s: 422 42201" % what, "POST /subjects/{s}/versions", r, 422,
                       42201, cite=cite)
        r = self.register(bad, self.avro("Reg", [("f1", "string")]), schema_type="XML")
        self.check("register with an unknown schemaType: 422 42201",
                   "POST /subjects/{s}/versions", r, 422, 42201,
                   cite="API reference: 42201 invalid schema or schema type")
        r = self.reg.call("POST", "/subjects/%s/versions" % q(bad), raw='{"schema": ')
        self.check("a request body that is not JSON: 400 error_code 400",
                   "POST /subjects/{s}/versions", r, 400, 400,
                   cite="rest-utils JsonParseExceptionMapper")
        r = self.reg.call("GET", "/subjects/%s/versions" % q(bad))
        self.check("failed registrations made no subject: 404 40401",
                   "GET /subjects/{s}/versions", r, 404, 40401, cite="RestApiTest.testBad")

    # ---------------------------------------------------------------- schemas ---

    def schemas_section(self):
        a, b = self.subject("ids-a"), self.subject("ids-b")
        schema = self.avro("Ids", [("x", "int"), ("y", "string")])
        sid = self.must_id(self.register(a, schema))
        self.must_id(self.register(b, schema))
        if sid is None:
            # Go on with an id that cannot resolve: the checks fail, and still count.
            self.note(False, "schemas: register the fixture schema")
            sid = 2147483645
        r = self.reg.call("GET", "/schemas/ids/%d" % sid)
        self.check("GET /schemas/ids/{id}: 200 {schema}, no schemaType for AVRO (or AVRO)",
                   "GET /schemas/ids/{id}", r, 200,
                   test=lambda r: json.loads(r.json["schema"]) == json.loads(schema)
                   and r.json.get("schemaType", "AVRO") == "AVRO",
                   cite="RestApiTest.testBasic; API reference GET /schemas/ids/{id}")
        r = self.reg.call("GET", "/schemas/ids/%d?subject=%s" % (sid, q(b)))
        self.check("GET /schemas/ids/{id}?subject=: 200 with the schema",
                   "GET /schemas/ids/{id}?subject=", r, 200,
                   test=lambda r: json.loads(r.json["schema"]) == json.loads(schema),
                   cite="RestApiTest.testSchemaReferencesInContext (getId with subject)")
        r = self.reg.call("GET", "/schemas/ids/%d/schema" % sid)
        self.check("GET /schemas/ids/{id}/schema: the bare schema", "GET /schemas/ids/{id}/schema",
                   r, 200, test=lambda r: r.json == json.loads(schema),
                   cite="RestApiTest.testGetOnlySchemaById")
        r = self.reg.call("GET", "/schemas/ids/%d/subjects" % sid)
        self.check("GET /schemas/ids/{id}/subjects: both subjects",
                   "GET /schemas/ids/{id}/subjects", r, 200,
                   test=lambda r: sorted(r.json) == sorted([a, b]) or "got %r" % r.json,
                   cite="RestApiTest.testGetSubjectsAssociatedWithSchemaId")
        r = self.reg.call("GET", "/schemas/ids/%d/versions" % sid)
        want = sorted([(a, 1), (b, 1)])
        self.check("GET /schemas/ids/{id}/versions: [{subject, version}] of both",
                   "GET /schemas/ids/{id}/versions", r, 200,
                   test=lambda r: sorted((x["subject"], x["version"]) for x in r.json) == want
                   or "got %r" % r.json,
                   cite="RestApiTest.testGetVersionsAssociatedWithSchemaId")
        # After a soft delete of b's version the id lists only a, and ?deleted=true both.
        self.reg.call("DELETE", "/subjects/%s/versions/1" % q(b))
        r = self.reg.call("GET", "/schemas/ids/%d/subjects" % sid)
        self.check("after deleting b/1: /subjects lists only a", "GET /schemas/ids/{id}/subjects",
                   r, 200, test=lambda r: r.json == [a] or "got %r" % r.json,
                   cite="RestApiTest.testGetSubjectsAssociatedWithSchemaId")
        r = self.reg.call("GET", "/schemas/ids/%d/versions" % sid)
        self.check("after deleting b/1: /versions lists only a/1", "GET /schemas/ids/{id}/versions",
                   r, 200, test=lambda r: [(x["subject"], x["version"]) for x in r.json] == [(a, 1)]
                   or "got %r" % r.json,
                   cite="RestApiTest.testGetVersionsAssociatedWithSchemaId")
        r = self.reg.call("GET", "/schemas/ids/%d" % sid)
        self.check("the id still resolves after a soft delete", "GET /schemas/ids/{id}", r, 200,
                   cite="API reference DELETE version: the schema id stays")
        missing = 2147483646
        for suffix in ("", "/schema", "/subjects", "/versions"):
            ep = "GET /schemas/ids/{id}" + suffix
            r = self.reg.call("GET", "/schemas/ids/%d%s" % (missing, suffix))
            self.check("GET /schemas/ids/{unknown}%s: 404 40403" % suffix, ep, r, 404, 40403,
                       cite="RestApiTest.testGetSchemaNonExistingId, "
                       "testGetSubjectsAssociatedWithNotFoundSchemaId")

    # ----------------------------------------------------------------- lookup ---

    def lookup_section(self):
        s = self.subject("lookup")
        schema = self.avro("Look", [("f", "string")])
        sid = self.must_id(self.register(s, schema))
        r = self.reg.call("POST", "/subjects/%s" % q(s), {"schema": schema})
        self.check("lookup a registered schema: 200 {subject, id, version, schema}",
                   "POST /subjects/{s}", r, 200,
                   test=lambda r: (r.json.get("subject"), r.json.get("id"), r.json.get("version"))
                   == (s, sid, 1) and json.loads(r.json["schema"]) == json.loads(schema)
                   or "got %r" % r.json, cite="API reference POST /subjects/{s}")
        r = self.reg.call("POST", "/subjects/%s" % q(s),
                          {"schema": json.dumps(json.loads(schema), indent=2)})
        self.check("lookup with other whitespace finds it", "POST /subjects/{s}", r, 200,
                   test=lambda r: r.json.get("id") == sid, cite="RestApiTest.testCanonicalization")
        r = self.reg.call("POST", "/subjects/%s" % q(s),
                          {"schema": self.avro("Look", [("g", "string")])})
        self.check("lookup an unregistered schema: 404 40403", "POST /subjects/{s}", r, 404, 40403,
                   cite="RestApiTest.testLookUpNonExistentSchemaUnderSubject")
        r = self.reg.call("POST", "/subjects/%s" % q(self.prefix + "lookup-none"),
                          {"schema": schema})
        self.check("lookup under an unknown subject: 404 40401", "POST /subjects/{s}", r, 404,
                   40401, cite="RestApiTest.testLookUpSchemaUnderNonExistentSubject")
        r = self.reg.call("POST", "/subjects/%s" % q(s), {"schema": "{\"type\": \"bogus\"}"})
        self.check("lookup an invalid schema: 422 42201", "POST /subjects/{s}", r, 422, 42201,
                   cite="SubjectsResource.lookUpSchemaUnderSubject: invalidSchemaException")

        # normalize: the two forms of RestApiTest.testSchemaNormalization (a primitive written
        # as {"type": "int"} and "int"; custom properties in another order), without references.
        n = self.subject("normalize")
        one = json.dumps({"type": "record", "name": "myrecord", "namespace": self.ns,
                          "fields": [{"type": {"type": "int"}, "name": "field0"}],
                          "extraMetadata": {"a": 1, "b": 2}})
        two = json.dumps({"type": "record", "name": "myrecord", "namespace": self.ns,
                          "fields": [{"type": "int", "name": "field0"}],
                          "extraMetadata": {"b": 2, "a": 1}})
        r = self.register(n, one, query="?normalize=true")
        self.check("register with ?normalize=true", "POST /subjects/{s}/versions?normalize=true", r,
                   200, test=lambda r: isinstance(r.json.get("id"), int),
                   cite="RestApiTest.testSchemaNormalization")
        nid = self.must_id(r)
        r = self.reg.call("POST", "/subjects/%s?normalize=true" % q(n), {"schema": two})
        self.check("lookup of an equivalent form with ?normalize=true finds version 1",
                   "POST /subjects/{s}?normalize=true", r, 200,
                   test=lambda r: (r.json.get("version"), r.json.get("id")) == (1, nid)
                   or "got %r" % r.json, cite="RestApiTest.testSchemaNormalization")

        # deleted: a soft-deleted version is found only with ?deleted=true.
        d = self.subject("lookup-deleted")
        s_old = self.avro("LookDel", [("f", "string")])
        s_new = self.avro("LookDel", [("f", "string"), ("g", "string", "x")])
        self.register(d, s_old)
        self.register(d, s_new)
        self.reg.call("DELETE", "/subjects/%s/versions/1" % q(d))
        r = self.reg.call("POST", "/subjects/%s" % q(d), {"schema": s_old})
        self.check("lookup of a soft-deleted version: 404 40403", "POST /subjects/{s}", r, 404,
                   40403, cite="RestApiTest.testDeleteWithLookup")
        r = self.reg.call("POST", "/subjects/%s?deleted=true" % q(d), {"schema": s_old})
        self.check("lookup of it with ?deleted=true: version 1", "POST /subjects/{s}?deleted=true",
                   r, 200, test=lambda r: r.json.get("version") == 1 or "got %r" % r.json,
                   cite="RestApiTest.testDeleteWithLookup")

    # --------------------------------------------------------------- versions ---

    def versions_section(self):
        s = self.subject("versions")
        v1 = self.avro("Ver", [("f", "string")])
        v2 = self.avro("Ver", [("f", "string"), ("g", "int", 0)])
        id1 = self.must_id(self.register(s, v1))
        id2 = self.must_id(self.register(s, v2))
        r = self.reg.call("GET", "/subjects/%s/versions" % q(s))
        self.check("GET versions: [1, 2]", "GET /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json == [1, 2] or "got %r" % r.json,
                   cite="RestApiTest.testGetVersion")
        r = self.reg.call("GET", "/subjects/%s/versions/1" % q(s))
        self.check("GET version 1: {subject, version, id, schema}",
                   "GET /subjects/{s}/versions/{v}", r, 200,
                   test=lambda r: (r.json["subject"], r.json["version"], r.json["id"])
                   == (s, 1, id1) and json.loads(r.json["schema"]) == json.loads(v1)
                   or "got %r" % r.json,
                   cite="RestApiTest.testGetVersion")
        for v in ("latest", "LATEST", "-1"):
            r = self.reg.call("GET", "/subjects/%s/versions/%s" % (q(s), v))
            self.check("GET version %s is version 2" % v, "GET /subjects/{s}/versions/{v}", r, 200,
                       test=lambda r: (r.json["version"], r.json["id"]) == (2, id2)
                       or "got %r" % r.json, cite="VersionId: 'latest' (any case) and -1")
        r = self.reg.call("GET", "/subjects/%s/versions/1/schema" % q(s))
        self.check("GET version 1/schema: the bare schema", "GET /subjects/{s}/versions/{v}/schema",
                   r, 200, test=lambda r: r.json == json.loads(v1),
                   cite="RestApiTest.testGetVersionSchemaOnly")
        r = self.reg.call("GET", "/subjects/%s/versions/latest/schema" % q(s))
        self.check("GET latest/schema: version 2's schema",
                   "GET /subjects/{s}/versions/{v}/schema", r, 200,
                   test=lambda r: r.json == json.loads(v2),
                   cite="RestApiTest.testGetLatestVersionSchemaOnly")
        for v in ("0", "-2", "earliest", "1.5"):
            r = self.reg.call("GET", "/subjects/%s/versions/%s" % (q(s), q(v)))
            self.check("GET version '%s': 422 42202" % v, "GET /subjects/{s}/versions/{v}", r, 422,
                       42202, cite="RestApiTest.testGetInvalidVersion; VersionId")
        r = self.reg.call("GET", "/subjects/%s/versions/0/schema" % q(s))
        self.check("GET version 0/schema: 422 42202", "GET /subjects/{s}/versions/{v}/schema", r,
                   422, 42202, cite="VersionId")
        r = self.reg.call("GET", "/subjects/%s/versions/200" % q(s))
        self.check("GET version 200: 404 40402", "GET /subjects/{s}/versions/{v}", r, 404, 40402,
                   cite="RestApiTest.testGetNonExistingVersion")
        r = self.reg.call("GET", "/subjects/%s/versions/200/schema" % q(s))
        self.check("GET version 200/schema: 404 40402", "GET /subjects/{s}/versions/{v}/schema", r,
                   404, 40402, cite="RestApiTest.testGetNonExistingVersion")
        none = self.prefix + "versions-none"
        r = self.reg.call("GET", "/subjects/%s/versions/1" % q(none))
        self.check("GET version 1 of an unknown subject: 404 40401",
                   "GET /subjects/{s}/versions/{v}", r, 404, 40401,
                   cite="RestApiTest.testGetVersionNonExistentSubject")
        r = self.reg.call("GET", "/subjects/%s/versions/latest" % q(none))
        self.check("GET latest of an unknown subject: 404 40401", "GET /subjects/{s}/versions/{v}",
                   r, 404, 40401, cite="RestApiTest.testGetLatestVersionNonExistentSubject")
        r = self.reg.call("GET", "/subjects/%s/versions" % q(none))
        self.check("GET versions of an unknown subject: 404 40401", "GET /subjects/{s}/versions", r,
                   404, 40401, cite="RestApiTest.testListVersionsNonExistingSubject")
        r = self.reg.call("GET", "/subjects/%s/versions/1/referencedby" % q(s))
        self.check("GET referencedby of an unreferenced version: []",
                   "GET /subjects/{s}/versions/{v}/referencedby", r, 200,
                   test=lambda r: r.json == [] or "got %r" % r.json,
                   cite="API reference GET .../referencedby")
        r = self.reg.call("GET", "/subjects/%s/versions/0/referencedby" % q(s))
        self.check("GET referencedby of version 0: 422 42202",
                   "GET /subjects/{s}/versions/{v}/referencedby", r, 422, 42202,
                   cite="API reference GET .../referencedby: 42202")
        r = self.reg.call("GET", "/subjects/%s/versions/9/referencedby" % q(s))
        self.check("GET referencedby of version 9: 404 40402",
                   "GET /subjects/{s}/versions/{v}/referencedby", r, 404, 40402,
                   cite="API reference GET .../referencedby: 40402")
        r = self.reg.call("GET", "/subjects/%s/versions/1/referencedby" % q(none))
        self.check("GET referencedby under an unknown subject: 404 40401",
                   "GET /subjects/{s}/versions/{v}/referencedby", r, 404, 40401,
                   cite="API reference GET .../referencedby: 40401")

    # ----------------------------------------------------------------- delete ---

    def delete_section(self):
        s = self.subject("delver")
        v1 = self.avro("DelVer", [("f", "string")])
        v2 = self.avro("DelVer", [("f", "string"), ("g", "int", 0)])
        v3 = self.avro("DelVer", [("f", "string"), ("g", "int", 0), ("h", "int", 0)])
        id1 = self.must_id(self.register(s, v1))
        self.register(s, v2)
        self.register(s, v3)
        sv = "/subjects/%s/versions/" % q(s)
        ep = "DELETE /subjects/{s}/versions/{v}"
        epp = ep + "?permanent=true"
        get, getd = "GET /subjects/{s}/versions/{v}", "GET /subjects/{s}/versions/{v}?deleted=true"
        perm = "RestApiTest.testDeleteSchemaVersionPermanent"
        basic = "RestApiTest.testDeleteSchemaVersionBasic"
        inval = "SubjectVersionsResource.deleteSchemaVersion: invalidVersionException"
        self.steps([
            ("permanent delete of a live version: 404 40407", "DELETE", sv + "2?permanent=true",
             None, epp, 404, 40407, None, perm),
            ("soft delete of version 2: 200, body 2", "DELETE", sv + "2", None, ep, 200, None,
             eq(2), basic),
            ("soft delete of it again: 404 40406", "DELETE", sv + "2", None, ep, 404, 40406, None,
             perm),
            ("versions now [1, 3]", "GET", sv[:-1], None, "GET /subjects/{s}/versions", 200, None,
             eq([1, 3]), basic),
            ("versions?deleted=true: [1, 2, 3]", "GET", sv[:-1] + "?deleted=true", None,
             "GET /subjects/{s}/versions?deleted=true", 200, None, eq([1, 2, 3]), perm),
            ("GET the deleted version: 404 40402", "GET", sv + "2", None, get, 404, 40402, None,
             basic),
            ("GET it with ?deleted=true: 200 version 2", "GET", sv + "2?deleted=true", None, getd,
             200, None, field("version", 2), basic),
            ("permanent delete after the soft one: 200, body 2", "DELETE", sv + "2?permanent=true",
             None, epp, 200, None, eq(2), perm),
            ("permanent delete again: 404 40402", "DELETE", sv + "2?permanent=true", None, epp, 404,
             40402, None, perm),
            ("a permanently deleted version is gone even with ?deleted=true: 404 40402", "GET",
             sv + "2?deleted=true", None, get, 404, 40402, None, perm),
            ("delete 'latest' deletes version 3", "DELETE", sv + "latest", None, ep, 200, None,
             eq(3), "RestApiTest.testDeleteLatestVersion"),
            ("latest is now version 1", "GET", sv + "latest", None, get, 200, None,
             field("id", id1), "RestApiTest.testDeleteLatestVersion"),
            ("delete version 'abc': 422 42202", "DELETE", sv + "abc", None, ep, 422, 42202, None,
             inval),
            ("delete version '0': 422 42202", "DELETE", sv + "0", None, ep, 422, 42202, None,
             inval),
            ("delete a version that never was: 404 40402", "DELETE", sv + "7", None, ep, 404, 40402,
             None, "RestApiTest.testDeleteInvalidVersion"),
            ("delete a version of an unknown subject: 404 40401", "DELETE",
             "/subjects/%s/versions/1" % q(self.prefix + "delver-none"), None, ep, 404, 40401, None,
             "RestApiTest.testDeleteSchemaVersionInvalidSubject"),
            ("delete version -1 (the latest): the last live version", "DELETE", sv + "-1", None, ep,
             200, None, eq(1), basic),
            ("a subject without live versions is not found: 404 40401", "GET", sv[:-1], None,
             "GET /subjects/{s}/versions", 404, 40401, None, basic),
            ("re-register version 1's schema: same id", "POST", sv[:-1], {"schema": v1},
             "POST /subjects/{s}/versions", 200, None, field("id", id1), basic),
            ("it gets a new version number: [4]", "GET", sv[:-1], None,
             "GET /subjects/{s}/versions", 200, None, eq([4]), basic + " (re-register)"),
        ])

        # Subjects: soft then permanent; permanent first is 40405.
        t = self.subject("delsub")
        a1 = self.avro("DelSub", [("f", "string")])
        a2 = self.avro("DelSub", [("f", "string"), ("g", "int", 0)])
        self.register(t, a1)
        self.register(t, a2)
        st, never = "/subjects/" + q(t), "/subjects/" + q(self.prefix + "delsub-never")
        eps, epsp = "DELETE /subjects/{s}", "DELETE /subjects/{s}?permanent=true"
        self.steps([
            ("permanent delete of a live subject: 404 40405", "DELETE", st + "?permanent=true",
             None, epsp, 404, 40405, None, "RestApiTest.testDeleteSubjectPermanent"),
            ("soft delete of the subject: 200 [1, 2]", "DELETE", st, None, eps, 200, None,
             eq([1, 2]), "RestApiTest.testDeleteSubjectBasic"),
            ("soft delete of it again: 404 40404", "DELETE", st, None, eps, 404, 40404, None,
             "RestApiTest.testDeleteSubjectException"),
            ("latest of a soft-deleted subject: 404 40401", "GET", st + "/versions/latest", None,
             "GET /subjects/{s}/versions/{v}", 404, 40401, None,
             "RestApiTest.testDeleteSubjectBasic"),
            ("lookup in a soft-deleted subject with ?deleted=true: version 2", "POST",
             st + "?deleted=true", {"schema": a2}, "POST /subjects/{s}?deleted=true", 200, None,
             field("version", 2), "RestApiTest.testDeleteSubjectException"),
            ("permanent delete after the soft one: 200 [1, 2]", "DELETE", st + "?permanent=true",
             None, epsp, 200, None, eq([1, 2]), "RestApiTest.testDeleteSubjectPermanent"),
            ("after it, even ?deleted=true lookup: 404 40401", "POST", st + "?deleted=true",
             {"schema": a2}, "POST /subjects/{s}", 404, 40401, None,
             "RestApiTest.testDeleteSubjectPermanent"),
            ("soft delete of an unknown subject: 404 40401", "DELETE", never, None, eps, 404, 40401,
             None, "RestApiTest.testDeleteNonExistentSubject"),
            ("permanent delete of an unknown subject: 404 40401", "DELETE",
             never + "?permanent=true", None, epsp, 404, 40401, None,
             "RestApiTest.testDeleteNonExistentSubject"),
        ])
        u = self.subject("delsub-again")
        self.register(u, a1)
        self.register(u, a2)
        self.reg.call("DELETE", "/subjects/%s" % q(u))
        self.register(u, a1)
        self.register(u, a2)
        r = self.reg.call("GET", "/subjects/%s/versions" % q(u))
        self.check("register again after a soft subject delete: versions [3, 4]",
                   "GET /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json == [3, 4] or "got %r" % r.json,
                   cite="RestApiTest.testDeleteSubjectAndRegister")

    # --------------------------------------------------------------- subjects ---

    def subjects_section(self):
        live, gone = self.subject("list-live"), self.subject("list-gone")
        self.register(live, self.avro("ListLive", [("f", "string")]))
        self.register(gone, self.avro("ListGone", [("f", "string")]))
        self.reg.call("DELETE", "/subjects/%s" % q(gone))
        r = self.reg.call("GET", "/subjects")
        self.check("GET /subjects lists a live subject, not a soft-deleted one", "GET /subjects", r,
                   200, test=lambda r: live in r.json and gone not in r.json or "got %r" % [
                       x for x in r.json if x.startswith(self.prefix)],
                   cite="RestApiTest.testListSubjects")
        r = self.reg.call("GET", "/subjects?deleted=true")
        self.check("GET /subjects?deleted=true lists both", "GET /subjects?deleted=true", r, 200,
                   test=lambda r: live in r.json and gone in r.json,
                   cite="RestApiTest.testListSoftDeletedSubjectsAndSchemas")
        r = self.reg.call("GET", "/subjects?subjectPrefix=%s" % q(self.prefix + "list-"))
        self.check("GET /subjects?subjectPrefix= lists only the prefix's live subjects",
                   "GET /subjects?subjectPrefix=", r, 200,
                   test=lambda r: r.json == [live] or "got %r" % r.json,
                   cite="SubjectsResource.list: subjectPrefix")
        r = self.reg.call("GET", "/subjects?subjectPrefix=%s&deleted=true" % q(
            self.prefix + "list-"))
        self.check("with &deleted=true too: both", "GET /subjects?subjectPrefix=", r, 200,
                   test=lambda r: sorted(r.json) == sorted([live, gone]) or "got %r" % r.json,
                   cite="SubjectsResource.list; RestApiTest.testListSubjects")

    # ------------------------------------------------------------- references ---

    def references_section(self):
        ref, referrer = self.subject("ref"), self.subject("referrer")
        sub = json.dumps({"type": "record", "name": "Subrecord", "namespace": self.ns + ".other",
                          "fields": [{"name": "field2", "type": "string"}]})
        main = json.dumps({"type": "record", "name": "MyRecord", "namespace": self.ns,
                           "fields": [{"name": "field1", "type": self.ns + ".other.Subrecord"}]})
        rid = self.must_id(self.register(ref, sub))
        refs = [{"name": self.ns + ".other.Subrecord", "subject": ref, "version": 1}]
        r = self.register(referrer, main, refs=refs)
        self.check("register a schema with a reference", "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: isinstance(r.json.get("id"), int) and r.json["id"] != rid,
                   cite="RestApiTest.testSchemaReferences")
        mid = self.must_id(r)
        r = self.register(referrer, main, refs=refs)
        self.check("register it again: same id", "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json.get("id") == mid, cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("GET", "/schemas/ids/%s" % mid)
        self.check("GET /schemas/ids/{id} gives the references", "GET /schemas/ids/{id}", r, 200,
                   test=lambda r: r.json.get("references") == refs or "got %r" % r.json,
                   cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("GET", "/subjects/%s/versions/1" % q(referrer))
        self.check("GET the referrer's version gives the references",
                   "GET /subjects/{s}/versions/{v}", r, 200,
                   test=lambda r: r.json.get("references") == refs or "got %r" % r.json,
                   cite="API reference GET /subjects/{s}/versions/{v}")
        r = self.reg.call("GET", "/subjects/%s/versions/1/referencedby" % q(ref))
        self.check("referencedby lists the referrer's id",
                   "GET /subjects/{s}/versions/{v}/referencedby", r, 200,
                   test=lambda r: r.json == [mid] or "got %r" % r.json,
                   cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("POST", "/subjects/%s" % q(referrer),
                          {"schema": main, "references": refs})
        self.check("lookup with the references finds it", "POST /subjects/{s}", r, 200,
                   test=lambda r: r.json.get("id") == mid, cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("DELETE", "/subjects/%s/versions/1" % q(ref))
        self.check("delete a referenced version: 422 42206", "DELETE /subjects/{s}/versions/{v}", r,
                   422, 42206, cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("DELETE", "/subjects/%s" % q(ref))
        self.check("delete a subject with a referenced version: 422 42206", "DELETE /subjects/{s}",
                   r, 422, 42206, cite="SubjectsResource.deleteSubject: referenceExistsException")
        r = self.register(self.subject("referrer-missing"), main)
        self.check("register without the reference it needs: 422 42201",
                   "POST /subjects/{s}/versions", r, 422, 42201,
                   cite="RestApiTest.testSchemaMissingReferences")
        bad = [{"name": "bad", "subject": self.prefix + "nowhere", "version": 100}]
        r = self.register(self.subject("referrer-bad"), self.avro("Plain", [("f", "string")]),
                          refs=bad)
        self.check("register with a reference to nothing: 422 42201",
                   "POST /subjects/{s}/versions", r, 422, 42201,
                   cite="RestApiTest.testBad; testRegisterInvalidSchemaBadReference")
        r = self.reg.call("DELETE", "/subjects/%s/versions/1" % q(referrer))
        self.check("delete the referrer's version", "DELETE /subjects/{s}/versions/{v}", r, 200,
                   cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("GET", "/subjects/%s/versions/1/referencedby" % q(ref))
        self.check("referencedby is then []", "GET /subjects/{s}/versions/{v}/referencedby", r, 200,
                   test=lambda r: r.json == [] or "got %r" % r.json,
                   cite="RestApiTest.testSchemaReferences")
        r = self.reg.call("DELETE", "/subjects/%s/versions/1" % q(ref))
        self.check("the referenced version can then be deleted",
                   "DELETE /subjects/{s}/versions/{v}", r, 200,
                   cite="RestApiTest.testSchemaReferences")

    # ----------------------------------------------------------------- compat ---

    def compat(self, subject, version, schema, verbose=False, schema_type=None):
        path = "/compatibility/subjects/%s/versions" % q(subject)
        if version is not None:
            path += "/" + q(version)
        if verbose:
            path += "?verbose=true"
        body = {"schema": schema}
        if schema_type:
            body["schemaType"] = schema_type
        return self.reg.call("POST", path, body)

    @staticmethod
    def compat_ep(version, verbose):
        ep = "POST /compatibility/subjects/{s}/versions" + ("/{v}" if version is not None else "")
        return ep + ("?verbose=true" if verbose else "")

    @staticmethod
    def is_compat(want, messages=None):
        """A body test: is_compatible is `want`; with messages True / False, a non-empty /
        empty `messages` list too (?verbose=true)."""
        def test(r):
            if r.json.get("is_compatible") is not want:
                return "is_compatible %r, want %r" % (r.json.get("is_compatible"), want)
            if messages is not None:
                m = r.json.get("messages", [] if not messages else None)
                if not isinstance(m, list) or bool(m) != messages:
                    return "messages %r, want %s" % (m, "some" if messages else "none")
            return True
        return test

    def C(self, name, subject, version, schema, want=None, verbose=False, status=200, code=None,
          cite=""):
        """A steps() row: a compatibility check of `schema` against `version` (None: all)."""
        path = "/compatibility/subjects/%s/versions" % q(subject)
        if version is not None:
            path += "/" + q(version)
        if verbose:
            path += "?verbose=true"
        test = self.is_compat(want, True if verbose and not want else
                              False if verbose else None) if want is not None else None
        return (name, "POST", path, {"schema": schema}, self.compat_ep(version, verbose), status,
                code, test, cite)

    @staticmethod
    def R(name, subject, schema, status=200, code=None, test=None, cite=""):
        """A steps() row: register `schema` under `subject`."""
        return (name, "POST", "/subjects/%s/versions" % q(subject), {"schema": schema},
                "POST /subjects/{s}/versions", status, code, test, cite)

    def set_level(self, subject, level):
        self.reg.call("PUT", "/config/%s" % q(subject), {"compatibility": level})

    def compat_section(self):
        C, R = self.C, self.R
        # BACKWARD, the default: adding a field without a default is incompatible (409 40901),
        # with one it is fine. RestApiCompatibilityTest.testCompatibility.
        s, none = self.subject("backward"), self.prefix + "compat-none"
        f1 = self.avro("Compat", [("f1", "string")])
        no_default = self.avro("Compat", [("f1", "string"), ("f2", "string")])
        with_default = self.avro("Compat", [("f1", "string"), ("f2", "string", "foo")])
        bogus = "{\"type\": \"bogus\"}"
        cc = "RestApiCompatibilityTest.testCompatibility"
        verb = "CompatibilityResource: verbose gives messages"
        self.register(s, f1)
        self.steps([
            C("BACKWARD: a new field without default: is_compatible false", s, "latest",
              no_default, False, cite=cc),
            C("with ?verbose=true: messages name the problem", s, "latest", no_default, False,
              verbose=True, cite=verb),
            R("BACKWARD: registering it is 409 40901, the message says incompatible", s,
              no_default, 409, 40901, lambda r: "incompatible" in r.json["message"].lower()
              or "message %r" % r.json["message"], cc),
            C("BACKWARD: a new field with a default: is_compatible true", s, "latest",
              with_default, True, cite=cc),
            C("compatible, with ?verbose=true: no messages", s, "latest", with_default, True,
              verbose=True, cite=verb),
            R("BACKWARD: registering it works", s, with_default, cite=cc),
            C("compatibility against version 1 by number", s, "1", no_default, False,
              cite="RestApiTest.testIncompatibleSchemaLookupBySubject"),
            C("compatibility against version 100: 404 40402", s, "100", f1, status=404,
              code=40402, cite="RestApiTest.testCompatibilityNonExistentVersion"),
            C("compatibility against version 'earliest': 422 42202", s, "earliest", f1,
              status=422, code=42202, cite="RestApiTest.testCompatibilityInvalidVersion"),
            C("compatibility of an invalid schema: 422 42201", s, "latest", bogus, status=422,
              code=42201, cite="RestApiTest.testRegisterBadDefault"),
            C("an invalid schema with ?verbose=true on /versions: 200, false, a message", s, None,
              bogus, False, verbose=True, cite="RestApiTest.testSchemaNormalization (verbose)"),
            C("against latest of an unknown subject: true", none, "latest", f1, True,
              cite="RestApiTest.testCompatibilityNonExistentSubject"),
            C("against all versions of an unknown subject: true", none, None, f1, True,
              cite="RestApiTest.testCompatibilityNonExistentSubject"),
        ])

        # FORWARD_TRANSITIVE: compatible with the latest, not with all.
        ft = self.subject("forward-transitive")
        fwd = "RestApiTest.testIncompatibleSchemaBySubject"
        self.set_level(ft, "NONE")
        self.register(ft, self.avro("FT", [("f1", "string"), ("f2", "string")]))
        self.register(ft, self.avro("FT", [("f1", "string")]))
        self.set_level(ft, "FORWARD_TRANSITIVE")
        f3 = self.avro("FT", [("f1", "string"), ("f3", "string")])
        self.steps([
            C("FORWARD_TRANSITIVE: compatible with the latest version", ft, "latest", f3, True,
              cite=fwd),
            C("FORWARD_TRANSITIVE: incompatible with all versions (/versions)", ft, None, f3,
              False, cite=fwd),
            C("/versions?verbose=true gives messages", ft, None, f3, False, verbose=True,
              cite=verb),
            R("FORWARD_TRANSITIVE: registering it is 409 40901", ft, f3, 409, 40901, cite=fwd),
        ])

        # FULL_TRANSITIVE chain: v1 {f1}; v2 adds f2 with a default; v3 drops the default.
        # v3 is FULL-compatible with v2 but not with v1 (a v1 record has no f2).
        fu = self.subject("full-transitive")
        tc = "RestApiTransitiveCompatibilityTest.testCompatibility"
        te = "RestApiTransitiveCompatibilityTest.validateTransitiveEffect"
        no_def = self.avro("Full", [("f1", "string"), ("f2", "string")])
        self.steps([
            ("PUT /config/{s} FULL_TRANSITIVE", "PUT", "/config/%s" % q(fu),
             {"compatibility": "FULL_TRANSITIVE"}, "PUT /config/{s}", 200, None,
             field("compatibility", "FULL_TRANSITIVE"), "RestApiTest.testSubjectConfigChange"),
            R("FULL_TRANSITIVE: v1 registers", fu, self.avro("Full", [("f1", "string")]), cite=tc),
            R("FULL_TRANSITIVE: v2 (a field with a default) registers", fu,
              self.avro("Full", [("f1", "string"), ("f2", "string", "foo")]), cite=tc),
            C("FULL_TRANSITIVE: v3 (default dropped) is compatible with the latest", fu, "latest",
              no_def, True, cite=te),
            C("FULL_TRANSITIVE: v3 is incompatible with all versions", fu, None, no_def, False,
              cite=tc),
            R("FULL_TRANSITIVE: registering v3 is 409 40901", fu, no_def, 409, 40901, cite=tc),
        ])
        self.set_level(fu, "FULL")
        self.steps([R("FULL (not transitive): registering v3 works", fu, no_def, cite=te)])

        # FULL: a field changing type is incompatible; NONE: anything goes.
        fl, nn = self.subject("full-type"), self.subject("none")
        self.set_level(fl, "FULL")
        self.register(fl, self.avro("FullType", [("f", "string")]))
        self.set_level(nn, "NONE")
        self.register(nn, self.avro("NoneA", [("f", "string")]))
        self.steps([
            C("FULL: string -> int is incompatible", fl, "1",
              self.avro("FullType", [("f", "int")]), False,
              cite="RestApiTest.testIncompatibleSchemaLookupBySubject"),
            R("NONE: an unrelated schema registers", nn, self.avro("NoneB", [("g", "int")]),
              cite="RestApiTest.testSchemaRegistrationUnderDiffSubjects"),
        ])

    # ------------------------------------------------------------------- json ---

    def json_section(self):
        s = self.subject("json")

        def js(t):
            return json.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                               "title": "T" + self.tag, "type": "object",
                               "properties": {"myField1": {"type": "string"},
                                              "myField2": {"type": t}},
                               "additionalProperties": False})
        self.reg.call("PUT", "/config/%s" % q(s), {"compatibility": "FULL"})
        r = self.register(s, js("number"), schema_type="JSON")
        self.check("register a JSON Schema (schemaType JSON)", "POST /subjects/{s}/versions", r,
                   200, test=lambda r: isinstance(r.json.get("id"), int),
                   cite="json/RestApiTest.testBasic")
        jid = self.must_id(r)
        r = self.register(s, js("number"), schema_type="JSON")
        self.check("register it again: same id", "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json.get("id") == jid, cite="json/RestApiTest.testBasic")
        r = self.reg.call("GET", "/subjects/%s/versions/1" % q(s))
        self.check("GET its version: schemaType JSON", "GET /subjects/{s}/versions/{v}", r, 200,
                   test=lambda r: r.json.get("schemaType") == "JSON" or "got %r" % r.json,
                   cite="API reference: schemaType omitted only for AVRO")
        r = self.reg.call("GET", "/schemas/ids/%s" % jid)
        self.check("GET /schemas/ids/{id}: schemaType JSON", "GET /schemas/ids/{id}", r, 200,
                   test=lambda r: r.json.get("schemaType") == "JSON" or "got %r" % r.json,
                   cite="json/RestApiTest.testBasic")
        r = self.reg.call("POST", "/subjects/%s" % q(s),
                          {"schema": js("number"), "schemaType": "JSON"})
        self.check("lookup the JSON Schema", "POST /subjects/{s}", r, 200,
                   test=lambda r: r.json.get("id") == jid, cite="json/RestApiTest.testBasic")
        r = self.compat(s, "1", js("string"), schema_type="JSON")
        self.check("FULL, closed model: number -> string is incompatible",
                   self.compat_ep(1, False), r, 200, test=self.is_compat(False),
                   cite="json/RestApiTest.testIncompatibleSchema")
        r = self.register(s, js("string"), schema_type="JSON")
        self.check("registering it is 409 40901", "POST /subjects/{s}/versions", r, 409, 40901,
                   cite="json/RestApiTest.testIncompatibleSchema")
        bad = json.dumps({"type": "bad-object", "properties": {"f": {"type": "string"}},
                          "additionalProperties": False})
        r = self.register(self.subject("json-bad"), bad, schema_type="JSON")
        self.check("register an invalid JSON Schema ('bad-object'): 422 42201",
                   "POST /subjects/{s}/versions", r, 422, 42201,
                   cite="json/RestApiTest.testBad (getBadSchema)")
        r = self.register(self.subject("json-bad"), "not json at all", schema_type="JSON")
        self.check("register a JSON Schema that is not JSON: 422 42201",
                   "POST /subjects/{s}/versions", r, 422, 42201, cite="json/RestApiTest.testBad")

    # ----------------------------------------------------------------- config ---

    def config_section(self):
        s = self.subject("config")
        t = self.subject("config-unregistered")
        cs, ct = "/config/" + q(s), "/config/" + q(t)
        never = "/config/" + q(self.prefix + "config-never")
        change, lvl = "RestApiTest.testSubjectConfigChange", "compatibilityLevel"
        bad_level = "ConfigResource: RestInvalidCompatibilityException"
        self.register(s, self.avro("Conf", [("f", "string")]))
        rows = [
            ("GET /config: {compatibilityLevel}", "GET", "/config", None, "GET /config", 200, None,
             lambda r: isinstance(r.json.get(lvl), str), "RestApiTest.testConfigDefaults"),
            ("GET /config/{s} without a subject level: 404 40408", "GET", cs, None,
             "GET /config/{s}", 404, 40408, None, "RestApiTest.testGetConfigNonExistentSubject"),
            ("with ?defaultToGlobal=true: the global level", "GET", cs + "?defaultToGlobal=true",
             None, "GET /config/{s}?defaultToGlobal=true", 200, None,
             field(lvl, self.global_config), change),
        ]
        for level in ("FORWARD", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL", "NONE",
                      "FULL_TRANSITIVE", "BACKWARD", "FORWARD"):
            rows.append(("PUT /config/{s} %s: echoed back" % level, "PUT", cs,
                         {"compatibility": level}, "PUT /config/{s}", 200, None,
                         field("compatibility", level), change))
        rows += [
            ("GET /config/{s} gives the last one", "GET", cs, None, "GET /config/{s}", 200, None,
             field(lvl, "FORWARD"), change),
            ("PUT /config/{s} an invalid level: 422 42203", "PUT", cs,
             {"compatibility": "SIDEWAYS"}, "PUT /config/{s}", 422, 42203, None, bad_level),
            ("PUT /config an invalid level: 422 42203", "PUT", "/config",
             {"compatibility": "SIDEWAYS"}, "PUT /config", 422, 42203, None, bad_level),
            ("a refused PUT changed nothing", "GET", cs, None, "GET /config/{s}", 200, None,
             field(lvl, "FORWARD"), bad_level),
            ("DELETE /config/{s}: 200 with the old level", "DELETE", cs, None,
             "DELETE /config/{s}", 200, None, field(lvl, "FORWARD"),
             "ConfigResource.deleteSubjectConfig: returns the deleted config"),
            ("after it, GET /config/{s}: 404 40408", "GET", cs, None, "GET /config/{s}", 404,
             40408, None, change),
            ("DELETE /config/{s} of a subject without one: 404 40401", "DELETE", never, None,
             "DELETE /config/{s}", 404, 40401, None,
             "ConfigResource.deleteSubjectConfig: subjectNotFoundException"),
            # A subject level needs no registered subject.
            ("PUT /config/{s} of a subject with no schema", "PUT", ct,
             {"compatibility": "FORWARD"}, "PUT /config/{s}", 200, None, None,
             "RestApiTest.testNonExistentSubjectConfigChange"),
            ("GET it back", "GET", ct, None, "GET /config/{s}", 200, None, field(lvl, "FORWARD"),
             "RestApiTest.testNonExistentSubjectConfigChange"),
        ]
        # Global: PUT, read through a subject without a level, DELETE back to the default.
        # The level found at the start is put back by restore_global().
        other = "FULL" if self.global_config != "FULL" else "FORWARD"
        glob = "RestApiTest.testGlobalConfigChange"
        rows += [
            ("PUT /config %s: echoed back" % other, "PUT", "/config", {"compatibility": other},
             "PUT /config", 200, None, field("compatibility", other), glob),
            ("GET /config gives it", "GET", "/config", None, "GET /config", 200, None,
             field(lvl, other), glob),
            ("a subject without a level reads it with ?defaultToGlobal=true", "GET",
             cs + "?defaultToGlobal=true", None, "GET /config/{s}?defaultToGlobal=true", 200,
             None, field(lvl, other), change),
            ("DELETE /config: 200 with the old level", "DELETE", "/config", None, "DELETE /config",
             200, None, field(lvl, other), glob),
            ("GET /config after it: the server default, BACKWARD", "GET", "/config", None,
             "GET /config", 200, None, field(lvl, "BACKWARD"),
             "API reference: BACKWARD is the default"),
        ]
        try:
            self.steps(rows)
        finally:
            self.reg.call("DELETE", ct)
            self.restore_global()

    # ------------------------------------------------------------------- mode ---

    def mode_section(self):
        s = self.subject("mode")
        ms, sv = "/mode/" + q(s), "/subjects/%s/versions" % q(s)
        v1 = self.avro("Mode", [("f", "string")])
        v2 = self.avro("Mode", [("f", "string"), ("g", "int", 0)])
        v3 = self.avro("Mode", [("f", "string"), ("g", "int", 0), ("h", "int", 0)])
        glob, ro = "RestApiTest.testGlobalMode", "RestApiModeTest.testReadOnlyMode"
        bad_mode = "ModeResource.updateMode: RestInvalidModeException"
        reg = "POST /subjects/{s}/versions"
        self.register(s, v1)
        self.steps([
            ("GET /mode: READWRITE", "GET", "/mode", None, "GET /mode", 200, None,
             field("mode", "READWRITE"), glob),
            ("PUT /mode READWRITE: echoed back", "PUT", "/mode", {"mode": "READWRITE"}, "PUT /mode",
             200, None, field("mode", "READWRITE"), "RestApiModeTest.testReadWriteMode"),
            ("PUT /mode an invalid mode: 422 42204", "PUT", "/mode", {"mode": "SOMETIMES"},
             "PUT /mode", 422, 42204, None, bad_mode),
            ("GET /mode/{s} without a subject mode: 404 40409", "GET", ms, None, "GET /mode/{s}",
             404, 40409, None, glob),
            ("with ?defaultToGlobal=true: READWRITE", "GET", ms + "?defaultToGlobal=true", None,
             "GET /mode/{s}?defaultToGlobal=true", 200, None, field("mode", "READWRITE"), glob),
            ("PUT /mode/{s} READONLY", "PUT", ms, {"mode": "READONLY"}, "PUT /mode/{s}", 200, None,
             field("mode", "READONLY"), ro),
            ("GET /mode/{s}: READONLY", "GET", ms, None, "GET /mode/{s}", 200, None,
             field("mode", "READONLY"), glob),
            ("READONLY: a registration is 422 42205", "POST", sv, {"schema": v2}, reg, 422, 42205,
             None, ro),
            ("READONLY: a version delete is 422 42205", "DELETE", sv + "/1", None,
             "DELETE /subjects/{s}/versions/{v}", 422, 42205, None,
             "KafkaSchemaRegistry.deleteSchemaVersion: read-only mode"),
            ("READONLY: reads still work", "GET", sv + "/1", None, "GET /subjects/{s}/versions/{v}",
             200, None, None, ro),
            ("READONLY: lookups still work", "POST", "/subjects/" + q(s), {"schema": v1},
             "POST /subjects/{s}", 200, None, None, ro),
            ("PUT /mode/{s} an invalid mode: 422 42204", "PUT", ms, {"mode": "NEVER"},
             "PUT /mode/{s}", 422, 42204, None, bad_mode),
            ("PUT /mode/{s} READWRITE", "PUT", ms, {"mode": "READWRITE"}, "PUT /mode/{s}", 200,
             None, field("mode", "READWRITE"), glob),
            ("READWRITE again: the registration works", "POST", sv, {"schema": v2}, reg, 200, None,
             None, "RestApiModeTest.testReadWriteMode"),
            ("READWRITE: a registration with an explicit id is 422 42205", "POST", sv,
             {"schema": v3, "id": 1999999999, "version": 9}, reg, 422, 42205, None,
             "RestApiModeTest.testReadWriteMode; AbstractSchemaRegistry.checkRegisterMode"),
            ("DELETE /mode/{s}: 200 with the old mode", "DELETE", ms, None, "DELETE /mode/{s}", 200,
             None, field("mode", "READWRITE"), "RestApiTest.testDefaultContextConfigAndMode"),
            ("after it, GET /mode/{s}: 404 40409", "GET", ms, None, "GET /mode/{s}", 404, 40409,
             None, glob),
            ("DELETE /mode/{s} without a subject mode: 404 40401", "DELETE", ms, None,
             "DELETE /mode/{s}", 404, 40401, None,
             "ModeResource.deleteSubjectMode: subjectNotFoundException"),
        ])

    # ----------------------------------------------------------------- import ---

    def import_section(self):
        # A fresh subject in IMPORT mode takes schemas with the ids and versions the caller gives.
        # RestApiModeTest.testImportMode, testImportModeWithoutId; RestApiTest.
        # testImportDifferentSchemaOnSameID.
        s = self.subject("import")
        r = self.reg.call("PUT", "/mode/%s" % q(s), {"mode": "IMPORT"})
        self.check("PUT /mode/{s} IMPORT on a subject with no schema", "PUT /mode/{s}", r, 200,
                   test=lambda r: r.json.get("mode") == "IMPORT" or "got %r" % r.json,
                   cite="RestApiModeTest.testImportMode")
        # An id far above what a test registry hands out, different per run.
        iid = random.randrange(1_000_000_000, 2_000_000_000)
        schema = self.avro("Imported", [("f", "string")])
        r = self.register(s, schema, extra={"id": iid, "version": 3})
        self.check("IMPORT: register with id %d and version 3" % iid, "POST /subjects/{s}/versions",
                   r, 200, test=lambda r: r.json.get("id") == iid or "got %r" % r.json,
                   cite="RestApiModeTest.testImportMode")
        r = self.reg.call("GET", "/schemas/ids/%d" % iid)
        self.check("the imported id resolves", "GET /schemas/ids/{id}", r, 200,
                   test=lambda r: json.loads(r.json["schema"]) == json.loads(schema),
                   cite="RestApiModeTest.testImportMode")
        r = self.reg.call("GET", "/subjects/%s/versions/3" % q(s))
        self.check("the imported version is 3 with that id", "GET /subjects/{s}/versions/{v}", r,
                   200, test=lambda r: (r.json.get("version"), r.json.get("id")) == (3, iid)
                   or "got %r" % r.json, cite="RestApiModeTest.testImportMode")
        r = self.register(s, self.avro("Imported", [("f", "string"), ("g", "int", 0)]))
        self.check("IMPORT: a registration without an id is 422 42205",
                   "POST /subjects/{s}/versions", r, 422, 42205,
                   cite="RestApiModeTest.testImportModeWithoutId")
        r = self.register(s, self.avro("Other", [("g", "int")]), extra={"id": iid, "version": 4})
        self.check("IMPORT: another schema under a taken id is 422 42205",
                   "POST /subjects/{s}/versions", r, 422, 42205,
                   cite="RestApiTest.testImportDifferentSchemaOnSameID")
        self.reg.call("PUT", "/mode/%s" % q(s), {"mode": "READWRITE"})
        r = self.register(s, schema)
        self.check("READWRITE after the import: the same schema gives the imported id",
                   "POST /subjects/{s}/versions", r, 200,
                   test=lambda r: r.json.get("id") == iid or "got %r" % r.json,
                   cite="RestApiModeTest.testRegisterSchemaWithNoIdAfterImport")
        self.reg.call("DELETE", "/mode/%s" % q(s))

    # ---------------------------------------------------------------- cleanup ---

    def read_global(self):
        r = self.reg.call("GET", "/config")
        self.global_config = r.json.get("compatibilityLevel") if isinstance(r.json, dict) else None
        r = self.reg.call("GET", "/mode")
        self.global_mode = r.json.get("mode") if isinstance(r.json, dict) else None

    def restore_global(self):
        r = self.reg.call("GET", "/config")
        now = r.json.get("compatibilityLevel") if isinstance(r.json, dict) else None
        if self.global_config and now != self.global_config:
            self.reg.call("PUT", "/config", {"compatibility": self.global_config})
        r = self.reg.call("GET", "/mode")
        now = r.json.get("mode") if isinstance(r.json, dict) else None
        if self.global_mode and now != self.global_mode:
            self.reg.call("PUT", "/mode", {"mode": self.global_mode})

    def cleanup(self):
        """Delete every subject of this run: modes and configs first, then referrers before
        the subjects they reference (a 42206 is retried on the next pass)."""
        self.restore_global()
        r = self.reg.call("GET", "/subjects?deleted=true&subjectPrefix=%s" % q(self.prefix))
        found = r.json if r.status == 200 and isinstance(r.json, list) else []
        todo = [s for s in dict.fromkeys(self.subjects + found) if s.startswith(self.prefix)]
        for s in todo:
            self.reg.call("DELETE", "/mode/%s" % q(s))
            self.reg.call("DELETE", "/config/%s" % q(s))
        for _ in range(4):
            left = []
            for s in todo:
                self.reg.call("DELETE", "/subjects/%s" % q(s))
                r = self.reg.call("DELETE", "/subjects/%s?permanent=true" % q(s))
                if r.status not in (200, 404):
                    left.append(s)
            todo = left
            if not todo:
                break
        r = self.reg.call("GET", "/subjects?deleted=true&subjectPrefix=%s" % q(self.prefix))
        rest = [s for s in (r.json or []) if s.startswith(self.prefix)] if r.status == 200 else []
        return rest


def run(args):
    reg = Registry(args.url, args.timeout)
    suite = Suite(reg, args.verbose)
    first = reg.call("GET", "/subjects")
    if first.status == 0:
        print("conformance: cannot reach %s: %s" % (args.url, first.text), file=sys.stderr)
        return 2
    if first.status != 200:
        print("conformance: GET /subjects answered %d; is %s a schema registry?" % (
            first.status, args.url), file=sys.stderr)
        return 2
    print("conformance: %s, subjects prefixed %s" % (args.url, suite.prefix), flush=True)
    suite.read_global()
    sections = {
        "basics": suite.basics, "register": suite.register_section,
        "schemas": suite.schemas_section, "lookup": suite.lookup_section,
        "versions": suite.versions_section, "delete": suite.delete_section,
        "subjects": suite.subjects_section, "references": suite.references_section,
        "compat": suite.compat_section, "json": suite.json_section,
        "config": suite.config_section, "mode": suite.mode_section,
        "import": suite.import_section,
    }
    only = args.only.split(",") if args.only else SECTIONS
    for name in only:
        if name not in sections:
            print("conformance: unknown section %r (have %s)" % (name, ", ".join(SECTIONS)),
                  file=sys.stderr)
            return 2
    try:
        for name in only:
            print("-- %s" % name, flush=True)
            sections[name]()
    finally:
        if not args.keep:
            rest = suite.cleanup()
            if rest:
                suite.note(False, "cleanup: every subject of the run deleted", "left: %r" % rest)
            else:
                suite.note(True, "cleanup: every subject of the run deleted")
    if not args.only:
        table = {(ep, c) for ep, codes in COVERAGE for c in codes}
        extra, missing = suite.covered - table, table - suite.covered
        suite.note(not extra and not missing, "the coverage table (--list) matches the checks run",
                   "not in the table: %s; in the table, not checked: %s" % (
                       sorted(extra), sorted(missing)))
    failed = sum(1 for ok, _ in suite.results if not ok)
    print("%d checks, %d failed" % (len(suite.results), failed))
    print("conformance: %d passed, %d failed" % (len(suite.results) - failed, failed))
    return 1 if failed else 0


def list_coverage():
    n = 0
    for ep, codes in COVERAGE:
        print("%-62s %s" % (ep, " ".join(codes)))
        n += len(codes)
    print("%d endpoints, %d (endpoint, status/error_code) pairs; sections: %s" % (
        len(COVERAGE), n, ", ".join(SECTIONS)))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("url", nargs="?", help="the registry's base URL, e.g. http://127.0.0.1:8081")
    p.add_argument("--list", action="store_true", help="print the endpoints and codes covered")
    p.add_argument("--verbose", action="store_true", help="show each exchange of a passed check")
    p.add_argument("--keep", action="store_true", help="leave this run's subjects in place")
    p.add_argument("--only", help="comma-separated sections to run: " + ",".join(SECTIONS))
    p.add_argument("--timeout", type=float, default=15.0, help="seconds per request (15)")
    args = p.parse_args()
    if args.list:
        return list_coverage()
    if not args.url:
        p.error("the registry URL is required (or --list)")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
