#!/usr/bin/env python3
"""Smoke test of the Python peer (scripts/python-peer's env) against a real broker.

    build/pyenv/bin/python tests/registry/peer_smoke.py BOOTSTRAP [REGISTRY_URL]

Produces records to a fresh topic with confluent-kafka and reads them back. With a registry
URL it also registers an Avro and a JSON Schema through AvroSerializer / JSONSerializer
(auto.register.schemas), produces one record of each, and decodes them with AvroDeserializer /
JSONDeserializer, checking the Confluent wire format (magic 0, 4-byte big-endian id) on the way.
Prints one line per step and `N passed, M failed`; exits 1 on a failure.
"""
import json
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.serialization import MessageField, SerializationContext

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail), flush=True)


def produce(bootstrap, topic, records):
    delivered = []
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for key, value in records:
        p.produce(topic, key=key, value=value,
                  on_delivery=lambda err, msg: delivered.append(err))
    left = p.flush(30)
    return left == 0 and len(delivered) == len(records) and all(e is None for e in delivered)


def consume(bootstrap, topic, n, timeout=30.0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "peer-smoke-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().retriable() or m.error().code() < 0:
                    continue
                raise KafkaException(m.error())
            out.append(m)
    finally:
        c.close()
    return out


def plain(bootstrap):
    topic = "peer-smoke-" + uuid.uuid4().hex[:8]
    records = [(b"k%d" % i, b"v%d" % i) for i in range(10)]
    check("produce 10 records to " + topic, produce(bootstrap, topic, records))
    got = consume(bootstrap, topic, 10)
    # Keys spread over the partitions: compare as sets (order holds only within one).
    check("consume them back", sorted((m.key(), m.value()) for m in got) == sorted(records),
          "got %d records" % len(got))


def with_registry(bootstrap, url):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    client = SchemaRegistryClient({"url": url})
    run = uuid.uuid4().hex[:8]
    avro_schema = json.dumps({"type": "record", "name": "Order", "namespace": "rill.smoke",
                              "fields": [{"name": "id", "type": "long"},
                                         {"name": "item", "type": "string"}]})
    json_schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                              "title": "Order", "type": "object",
                              "properties": {"id": {"type": "integer"},
                                             "item": {"type": "string"}},
                              "required": ["id", "item"]})
    value = {"id": 7, "item": "tea"}
    for kind, ser, de, schema in (
        ("avro", AvroSerializer, AvroDeserializer, avro_schema),
        ("json", JSONSerializer, JSONDeserializer, json_schema),
    ):
        topic = "peer-smoke-%s-%s" % (kind, run)
        ctx = SerializationContext(topic, MessageField.VALUE)
        try:
            # The two serializers take (client, schema) and (schema, client) respectively.
            serializer = ser(client, schema) if kind == "avro" else ser(schema, client)
            data = serializer(value, ctx)
        except Exception as e:  # the registry's refusal, named in the line
            check(kind + " serialize (registers the schema)", False, repr(e))
            continue
        magic, sid = struct.unpack(">bI", data[:5])
        latest = client.get_latest_version(topic + "-value")
        check(kind + " wire format: magic 0, id of subject %s-value" % topic,
              magic == 0 and sid == latest.schema_id, "magic %d id %d latest %r" % (
                  magic, sid, latest.schema_id))
        check(kind + " produce", produce(bootstrap, topic, [(b"k", data)]))
        got = consume(bootstrap, topic, 1)
        if not got:
            check(kind + " consume", False, "nothing read")
            continue
        if kind == "avro":
            back = de(client)(got[0].value(), ctx)
        else:
            back = de(schema, schema_registry_client=client)(got[0].value(), ctx)
        check(kind + " decode equals the value produced", back == value, repr(back))


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    plain(sys.argv[1])
    if len(sys.argv) == 3:
        with_registry(sys.argv[1], sys.argv[2])
    failed = RESULTS.count(False)
    print("%d passed, %d failed" % (len(RESULTS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
