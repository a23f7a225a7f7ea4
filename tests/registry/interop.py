#!/usr/bin/env python3
"""The Python side of rill-registry's interop test (tests/kafka/test_registry_interop_kafka.c),
run with scripts/python-peer's interpreter.

    interop.py produce BOOTSTRAP REGISTRY TOPIC N
        registers rill.interop.Order (id long, item string, amount double) in REGISTRY through
        confluent-kafka's AvroSerializer (subject TOPIC-value) and produces N orders, order i
        with amount i * 1.5, keyed by "o<i>".
    interop.py produce-json BOOTSTRAP REGISTRY TOPIC N
        the same orders as JSON Schema records (JSONSerializer, draft-07 schema "Order").
    interop.py consume-json BOOTSTRAP REGISTRY TOPIC N
        the charges as JSON Schema records (JSONDeserializer, validated against the writer's
        schema fetched by id), checked as consume checks them.
    interop.py consume BOOTSTRAP REGISTRY TOPIC N
        reads N records of TOPIC with AvroDeserializer (the writer's schema fetched by id from
        REGISTRY) and checks each: rill.interop.Charged (id long, item string, cents long) with
        cents == round(id * 150) and item == "item-<id>", each id once. Prints
        "ok N records, sum of cents S" or what is wrong; exits 1 on a failure.
"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "rill.interop",
                    "fields": [{"name": "id", "type": "long"},
                               {"name": "item", "type": "string"},
                               {"name": "amount", "type": "double"}]})


ORDER_JSON = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order",
                         "type": "object",
                         "properties": {"id": {"type": "integer"}, "item": {"type": "string"},
                                        "amount": {"type": "number"}},
                         "required": ["id", "item", "amount"]})


def produce(bootstrap, url, topic, n, kind="avro"):
    client = SchemaRegistryClient({"url": url})
    ser = AvroSerializer(client, ORDER) if kind == "avro" else JSONSerializer(ORDER_JSON, client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i in range(n):
        value = ser({"id": i, "item": "item-%d" % i, "amount": i * 1.5}, ctx)
        p.produce(topic, key=b"o%d" % i, value=value,
                  on_delivery=lambda err, msg: err and errors.append(err))
        p.poll(0)
    left = p.flush(60)
    if left or errors:
        print("FAIL produce: %d not delivered, errors %r" % (left, errors[:3]))
        return 1
    print("ok produced %d orders to %s" % (n, topic))
    return 0


def consume(bootstrap, url, topic, n, kind="avro"):
    client = SchemaRegistryClient({"url": url})
    de = AvroDeserializer(client) if kind == "avro" else JSONDeserializer(
        None, schema_registry_client=client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "interop-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen, total, deadline = set(), 0, time.monotonic() + 120
    try:
        while len(seen) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            v = de(m.value(), ctx)
            i = v["id"]
            if v["item"] != "item-%d" % i or v["cents"] != round(i * 150) or i in seen:
                print("FAIL record %r (key %r): wrong or seen twice" % (v, m.key()))
                return 1
            seen.add(i)
            total += v["cents"]
    finally:
        c.close()
    if len(seen) != n:
        print("FAIL only %d of %d records within 120 s" % (len(seen), n))
        return 1
    print("ok %d records, sum of cents %d" % (n, total))
    return 0


def main():
    modes = ("produce", "consume", "produce-json", "consume-json")
    if len(sys.argv) != 6 or sys.argv[1] not in modes:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    mode, bootstrap, url, topic, n = sys.argv[1:]
    kind = "json" if mode.endswith("-json") else "avro"
    run = produce if mode.startswith("produce") else consume
    return run(bootstrap, url, topic, int(n), kind)


if __name__ == "__main__":
    sys.exit(main())
