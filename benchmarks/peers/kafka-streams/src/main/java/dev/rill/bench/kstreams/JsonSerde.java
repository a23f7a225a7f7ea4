package dev.rill.bench.kstreams;

import java.io.IOException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The JSON serde of the Nexmark workloads: every value is parsed into a Jackson tree
 * (ObjectNode keeps the fields in input order) and written back as compact JSON (Jackson's
 * default output: no spaces, UTF-8, '/' not escaped). A null value (tombstone) stays null.
 */
public final class JsonSerde implements Serde<JsonNode> {
    static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    public Serializer<JsonNode> serializer() {
        return (topic, node) -> {
            if (node == null)
                return null;
            try {
                return MAPPER.writeValueAsBytes(node);
            } catch (IOException e) {
                throw new SerializationException("cannot write JSON for topic " + topic, e);
            }
        };
    }

    @Override
    public Deserializer<JsonNode> deserializer() {
        return (topic, data) -> {
            if (data == null)
                return null;
            try {
                return MAPPER.readTree(data);
            } catch (IOException e) {
                throw new SerializationException("a value of topic " + topic + " is not JSON", e);
            }
        };
    }
}
