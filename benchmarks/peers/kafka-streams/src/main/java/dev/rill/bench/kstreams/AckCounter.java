package dev.rill.bench.kstreams;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Counts the outputs the broker acknowledged: the producer calls onAcknowledgement for every
 * record it sent, once the broker answered (or the send failed), which is the Java counterpart
 * of the delivery reports Rill counts as records-produced. Kafka Streams' stream thread creates
 * its producer with this class through the "producer.interceptor.classes" setting, so the
 * counters are static; only records of the output topic count (the windowed workloads also write
 * changelogs and a repartition topic, whose acknowledgements are not outputs).
 */
public final class AckCounter implements ProducerInterceptor<byte[], byte[]> {
    static volatile String outputTopic = "";
    static final AtomicLong acked = new AtomicLong();
    static final AtomicLong failed = new AtomicLong();
    /** Wall-clock milliseconds (System.currentTimeMillis) of the first acknowledgement, or 0. */
    static final AtomicLong firstAckMillis = new AtomicLong();
    static final AtomicReference<String> firstError = new AtomicReference<>();

    @Override
    public ProducerRecord<byte[], byte[]> onSend(ProducerRecord<byte[], byte[]> record) {
        return record;
    }

    @Override
    public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
        if (exception != null) {
            failed.incrementAndGet();
            firstError.compareAndSet(null, exception.toString());
        } else if (metadata != null && outputTopic.equals(metadata.topic())) {
            if (acked.getAndIncrement() == 0)
                firstAckMillis.compareAndSet(0, System.currentTimeMillis());
        }
    }

    @Override
    public void close() {
    }

    @Override
    public void configure(Map<String, ?> configs) {
    }
}
