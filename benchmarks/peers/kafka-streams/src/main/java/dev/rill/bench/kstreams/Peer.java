package dev.rill.bench.kstreams;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Reducer;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.common.utils.Bytes;

/**
 * bench-kstreams: the workloads of benchmarks/WORKLOADS.md as a Kafka Streams 4.4.0 application,
 * the JVM peer of bench-rill-pipe (see README.md next to the pom for every setting).
 *
 * <pre>
 *   run --bootstrap B --workload W --input T --output O --group G --records N
 *       [--commit-interval MS] [--guarantee at_least_once|exactly_once_v2] [--timeout S]
 *       [--threads 1] [--consumer-set K=V]... [--producer-set K=V]... [--streams-set K=V]...
 * </pre>
 *
 * Measurement, as rill_pipe.c: the first processor of the topology (the filter, or a peek where
 * the workload has no filter) counts the records reaching it; the clock and the process CPU time
 * start at the first one. The run ends when N records reached it and every output they made was
 * acknowledged by the broker (AckCounter, a producer interceptor: the delivery reports). The
 * main thread sleeps on latches while the stream thread works; only after the N-th record does
 * it poll the acknowledgement counter, every millisecond.
 *
 * Windowed workloads (nexmark-q5, nexmark-q7, windowed-count), as bench-rill-pipe: the clock
 * stops when the N-th record reaches the first processor (the last outputs wait in the record
 * caches for the next commits); the untimed drain then waits until the group's committed offsets
 * reach the end of the input and then of the repartition topic (windowed-count has none), the
 * final result per window goes to the --finals file, and the internal topics and local state are
 * deleted.
 */
public final class Peer {
    static final String SYSTEM = "kstreams";
    static final String[] WORKLOADS = {"passthrough", "filter-map", "nexmark-q0", "nexmark-q1",
        "nexmark-q2", "nexmark-q5", "nexmark-q7", "windowed-count", "nexmark-q3", "nexmark-q8",
        "stream-stream-join"};

    // ---------------------------------------------------------------- options ---

    static String bootstrap, workload, input, output, group;
    static long records = -1;
    static long warmup = 0; // records processed before the clock starts: the JIT's warm-up
    static long commitIntervalMs = 1000;
    static String guarantee = StreamsConfig.AT_LEAST_ONCE;
    static long timeoutS = 600;
    static int threads = 1;
    static String finalsPath; // windowed workloads: where the final result per window goes
    static final List<String[]> consumerSet = new ArrayList<>();
    static final List<String[]> producerSet = new ArrayList<>();
    static final List<String[]> streamsSet = new ArrayList<>();

    static void usage(String why) {
        if (why != null)
            System.err.println("bench-kstreams: " + why);
        System.err.println("usage: bench-kstreams --bootstrap B --workload W --input T --output O "
            + "--group G --records N [--warmup N] [--commit-interval MS] "
            + "[--guarantee at_least_once|exactly_once_v2] [--timeout S] "
            + "[--threads T] [--finals FILE] "
            + "[--consumer-set K=V]... [--producer-set K=V]... [--streams-set K=V]...\n"
            + "workloads: " + String.join(", ", WORKLOADS));
        System.exit(2);
    }

    static long parseLong(String opt, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            usage(opt + " wants an integer, got '" + v + "'");
            return 0;
        }
    }

    static String[] keyValue(String opt, String v) {
        int eq = v.indexOf('=');
        if (eq < 1)
            usage(opt + " wants KEY=VALUE, got '" + v + "'");
        return new String[] {v.substring(0, eq), v.substring(eq + 1)};
    }

    static void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i], v = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) { // --opt=value
                v = a.substring(eq + 1);
                a = a.substring(0, eq);
            } else if (a.equals("-h") || a.equals("--help")) {
                usage(null);
            } else if (i + 1 < args.length) {
                v = args[++i];
            } else {
                usage("missing value after " + a);
            }
            switch (a) {
            case "--bootstrap": bootstrap = v; break;
            case "--workload": workload = v; break;
            case "--input": input = v; break;
            case "--output": output = v; break;
            case "--group": group = v; break;
            case "--records": records = parseLong(a, v); break;
            case "--warmup": warmup = parseLong(a, v); break;
            case "--commit-interval": commitIntervalMs = parseLong(a, v); break;
            case "--guarantee": guarantee = v; break;
            case "--timeout": timeoutS = parseLong(a, v); break;
            case "--threads": threads = (int) parseLong(a, v); break;
            case "--finals": finalsPath = v; break;
            case "--consumer-set": consumerSet.add(keyValue(a, v)); break;
            case "--producer-set": producerSet.add(keyValue(a, v)); break;
            case "--streams-set": streamsSet.add(keyValue(a, v)); break;
            default: usage("unknown option '" + a + "'");
            }
        }
        if (bootstrap == null || workload == null || input == null || output == null
            || group == null)
            usage("--bootstrap, --workload, --input, --output and --group are required");
        if (!List.of(WORKLOADS).contains(workload))
            usage("unknown workload '" + workload + "'");
        if (!guarantee.equals(StreamsConfig.AT_LEAST_ONCE)
            && !guarantee.equals(StreamsConfig.EXACTLY_ONCE_V2))
            usage("--guarantee wants at_least_once or exactly_once_v2, got '" + guarantee + "'");
        if (records < 1 || commitIntervalMs < 1 || timeoutS < 1 || threads < 1)
            usage("--records, --commit-interval, --timeout and --threads must be positive");
        if (warmup < 0 || warmup >= records)
            usage("--warmup must be at least 0 and below --records");
        if (input.split(",", -1).length != (join() ? 2 : 1) || input.startsWith(",")
            || input.endsWith(","))
            usage("--input: a join wants two topics \"L,R\", any other workload one");
    }

    // ------------------------------------------------------------ measurement ---

    static final com.sun.management.OperatingSystemMXBean OS =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /** Records that reached the first processor, and those of them that make an output. */
    static final AtomicLong seen = new AtomicLong(), passed = new AtomicLong();
    static volatile long tFirstNanos, cpuFirstNanos;
    /** Windowed workloads: when the N-th record reached the first processor. */
    static volatile long tEndNanos, cpuEndNanos;
    /** Windowed workloads: the stream thread's commits (commit-total) at the first measured
     *  record and at the N-th. */
    static volatile double commitsFirst, commitsEnd;
    /** passed when the N-th record reached the first processor: the outputs to wait for. */
    static volatile long passedAtN = -1;
    static final CountDownLatch half = new CountDownLatch(1), done = new CountDownLatch(1);
    static final AtomicReference<String> failure = new AtomicReference<>();

    /** Called by the first processor for every record; returns keep (the filter's answer). */
    static boolean count(boolean keep) {
        long p = keep ? passed.incrementAndGet() : passed.get();
        long n = seen.incrementAndGet();
        if (n == warmup + 1) {
            tFirstNanos = System.nanoTime();
            cpuFirstNanos = OS.getProcessCpuTime();
            if (windowed())
                commitsFirst = metricSum("stream-thread-metrics", "commit-total");
        }
        if (n == Math.max(1, records / 2))
            half.countDown();
        if (n == records) {
            if (windowed()) {
                tEndNanos = System.nanoTime();
                cpuEndNanos = OS.getProcessCpuTime();
                commitsEnd = metricSum("stream-thread-metrics", "commit-total");
            }
            passedAtN = p;
            done.countDown();
        }
        return keep;
    }

    static void fail(String why) {
        failure.compareAndSet(null, why);
        half.countDown();
        done.countDown();
    }

    /** A field of /proc/self/status in kB (VmRSS, VmHWM), or -1. */
    static long procStatusKb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"),
                     StandardCharsets.US_ASCII))
                if (line.startsWith(field + ":"))
                    return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            // not Linux: reported as -1
        }
        return -1;
    }

    // -------------------------------------------------------------- topologies ---

    static final Serde<byte[]> BYTES = Serdes.ByteArray();
    static final Serde<String> STRING = Serdes.String();
    static final Serde<JsonNode> JSON = new JsonSerde();

    /** filter-map's map: "m:" followed by the value. */
    static byte[] prefixM(byte[] v) {
        byte[] out = new byte[v.length + 2];
        out[0] = 'm';
        out[1] = ':';
        System.arraycopy(v, 0, out, 2, v.length);
        return out;
    }

    /** A numeric field of a bid, or an exception that names it (the app then fails). */
    static JsonNode field(JsonNode bid, String name) {
        JsonNode f = bid.get(name);
        if (f == null || !f.isIntegralNumber())
            throw new IllegalArgumentException("a bid has no integer '" + name + "': " + bid);
        return f;
    }

    /** q1: the same bid (same fields, same order) with price * 89 / 100, truncating. */
    static JsonNode q1(JsonNode bid) {
        if (bid == null)
            return null;
        if (!bid.isObject())
            throw new IllegalArgumentException("a bid is not a JSON object: " + bid);
        long price = field(bid, "price").longValue();
        ((ObjectNode) bid).put("price", price * 89 / 100); // replaces in place: order kept
        return bid;
    }

    /** q2's filter: auction % 123 == 0. */
    static boolean q2Keep(JsonNode bid) {
        return bid != null && field(bid, "auction").longValue() % 123 == 0;
    }

    /** q2's projection: {"auction":A,"price":P}. */
    static JsonNode q2(JsonNode bid) {
        ObjectNode out = JsonSerde.MAPPER.createObjectNode();
        out.set("auction", field(bid, "auction"));
        out.set("price", field(bid, "price"));
        return out;
    }

    // ------------------------------------------------- windowed Nexmark: q5, q7 ---

    static boolean windowed() {
        return workload.equals("nexmark-q5") || workload.equals("nexmark-q7")
            || workload.equals("windowed-count") || join();
    }

    /** The join workloads read two topics, "--input L,R", and are timed as the windowed ones. */
    static boolean join() {
        return workload.equals("nexmark-q3") || workload.equals("nexmark-q8")
            || workload.equals("stream-stream-join");
    }

    /** The input topics: --input split at its comma (joins: left, then right). */
    static String[] inputs() {
        return input.split(",", -1);
    }

    /** Event time: the bid's dateTime (a bid without one fails the app, as in Rill). */
    public static final class BidTime implements TimestampExtractor {
        @Override
        public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
            Object v = record.value();
            JsonNode t = v instanceof JsonNode ? ((JsonNode) v).get("dateTime") : null;
            if (t == null || !t.isIntegralNumber())
                throw new IllegalArgumentException("a bid has no integer 'dateTime': " + v);
            return t.longValue();
        }
    }

    /** Parses the comma-separated decimal integers of s; exactly n of them, or an exception. */
    static long[] ints(String s, int n, String want) {
        String[] f = s.split(",", -1);
        if (f.length != n)
            throw new IllegalArgumentException("a value is not \"" + want + "\": '" + s + "'");
        long[] v = new long[n];
        try {
            for (int i = 0; i < n; i++)
                v[i] = Long.parseLong(f[i]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a value is not \"" + want + "\": '" + s + "'");
        }
        return v;
    }

    /** q5, stage 2: the hotter of two "auction,count": the larger count, then the smaller
     *  auction. */
    static String q5Hottest(String agg, String value) {
        long[] a = ints(agg, 2, "auction,count"), b = ints(value, 2, "auction,count");
        return b[1] > a[1] || (b[1] == a[1] && b[0] < a[0]) ? value : agg;
    }

    /** q7, stage 1: the higher of two bids of one auction: the larger price, then the smaller
     *  bidder (equal price and bidder: the same output either way; the first is kept). */
    static JsonNode q7HigherBid(JsonNode agg, JsonNode value) {
        long ap = field(agg, "price").longValue(), ab = field(agg, "bidder").longValue();
        long bp = field(value, "price").longValue(), bb = field(value, "bidder").longValue();
        return bp > ap || (bp == ap && bb < ab) ? value : agg;
    }

    /** q7, stage 2: the higher of two "auction,price,bidder": the larger price, then the smaller
     *  bidder, then the smaller auction. */
    static String q7Highest(String agg, String value) {
        long[] a = ints(agg, 3, "auction,price,bidder"), b = ints(value, 3, "auction,price,bidder");
        boolean higher = b[1] > a[1]
            || (b[1] == a[1] && (b[2] < a[2] || (b[2] == a[2] && b[0] < a[0])));
        return higher ? value : agg;
    }

    /** The repartition topic "<application.id>-<name>-repartition": between the stages of q5
     *  and q7, of the auctions by seller in q3 and q8; null for windowed-count and
     *  stream-stream-join, which have none. */
    static String byWindowName() {
        switch (workload) {
        case "nexmark-q5": return "q5-by-window";
        case "nexmark-q7": return "q7-by-window";
        case "nexmark-q3": return "q3-by-seller";
        case "nexmark-q8": return "q8-by-seller";
        default: return null;
        }
    }

    /** Outputs handed to the sink, and the last value per key (window start): the final results.
     *  The stream thread writes them; the main thread reads them after close() joined it. */
    static final AtomicLong outputs = new AtomicLong();
    static final Map<String, String> finals = new ConcurrentHashMap<>();
    static volatile long firstOutputMillis;

    static void noteFinal(String key, String value) {
        if (outputs.getAndIncrement() == 0)
            firstOutputMillis = System.currentTimeMillis();
        if (key != null && value != null)
            finals.put(key, value);
        else if (key != null && workload.equals("nexmark-q3"))
            finals.remove(key); // a delete of the joined table
    }

    /** q8: every output, "<key> <value>" (a stream-stream join emits each pair once). */
    static final List<String> lines = new ArrayList<>();

    static void noteLine(String key, String value) {
        if (outputs.getAndIncrement() == 0)
            firstOutputMillis = System.currentTimeMillis();
        lines.add(key + " " + value);
    }

    /** stream-stream-join: the sum of the FNV-1a hashes of "<key>\n<value>". */
    static volatile long checksum;

    static void noteSum(byte[] key, byte[] value) {
        if (outputs.getAndIncrement() == 0)
            firstOutputMillis = System.currentTimeMillis();
        long h = 0xcbf29ce484222325L;
        for (byte x : key)
            h = (h ^ (x & 0xff)) * 0x100000001b3L;
        h = (h ^ '\n') * 0x100000001b3L;
        for (byte x : value)
            h = (h ^ (x & 0xff)) * 0x100000001b3L;
        checksum += h; // the stream thread only
    }

    // ------------------------------------------------ joins: q3, q8, stream-stream ---

    static final long Q8_WINDOW_MS = 10000, Q8_GRACE_MS = 3600000;
    static final long SSJ_WINDOW_MS = 1000, SSJ_GRACE_MS = 60000;

    static String text(JsonNode v, String name) {
        JsonNode f = v.get(name);
        if (f == null || !f.isTextual())
            throw new IllegalArgumentException("no string '" + name + "' in: " + v);
        return f.textValue();
    }

    /** q3's person filter: the states of Beam's q3. */
    static boolean q3Person(JsonNode p) {
        if (p == null)
            return false;
        String st = text(p, "state");
        return st.equals("OR") || st.equals("ID") || st.equals("CA");
    }

    /** q3: the ids of a seller's auctions, ascending and space-separated, with value's id
     *  inserted in its place. */
    static String q3AddId(String agg, String value) {
        long id = Long.parseLong(value);
        int at = 0;
        while (at < agg.length()) {
            int sp = agg.indexOf(' ', at);
            int end = sp < 0 ? agg.length() : sp;
            if (Long.parseLong(agg.substring(at, end)) > id)
                break;
            at = sp < 0 ? agg.length() : sp + 1;
        }
        if (at == agg.length())
            return agg.isEmpty() ? value : agg + " " + value;
        return agg.substring(0, at) + value + " " + agg.substring(at);
    }

    /** q8's joiner: same tumbling window: "<window start>,<name>,<auction id>,<reserve>",
     *  otherwise null (dropped by the filter after the join). */
    static String q8Join(JsonNode person, JsonNode auction) {
        long tp = field(person, "dateTime").longValue(), ta = field(auction, "dateTime").longValue();
        if (tp / Q8_WINDOW_MS != ta / Q8_WINDOW_MS)
            return null;
        return (tp / Q8_WINDOW_MS * Q8_WINDOW_MS) + "," + text(person, "name") + ","
            + field(auction, "id").longValue() + "," + field(auction, "reserve").longValue();
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The join workloads (WORKLOADS.md, "Joins"): every record of both inputs is counted by
     *  the first processor after its source (q3's persons: the table's filter, with the table's
     *  cache off so that it sees each person as it is read). */
    static void joinTopology(StreamsBuilder b) {
        String[] in = inputs();
        switch (workload) {
        case "nexmark-q3": {
            KTable<String, JsonNode> persons = b.table(in[0], Consumed.with(STRING, JSON),
                    Materialized.<String, JsonNode, KeyValueStore<Bytes, byte[]>>with(STRING, JSON)
                        .withCachingDisabled())
                .filter((k, v) -> count(q3Person(v)));
            KTable<String, String> ids = b.stream(in[1], Consumed.with(STRING, JSON))
                .filter((k, v) -> count(true))
                .filter((k, v) -> v != null && field(v, "category").longValue() == 10)
                .map((k, v) -> KeyValue.pair(Long.toString(field(v, "seller").longValue()),
                    Long.toString(field(v, "id").longValue())))
                .groupByKey(Grouped.with(byWindowName(), STRING, STRING))
                .reduce(Peer::q3AddId);
            persons.join(ids, (p, l) -> text(p, "name") + "," + text(p, "city") + ","
                    + text(p, "state") + "," + l)
                .toStream()
                .peek(Peer::noteFinal)
                .to(output, Produced.with(STRING, STRING));
            break;
        }
        case "nexmark-q8": {
            KStream<String, JsonNode> persons = b.stream(in[0], Consumed.with(STRING, JSON))
                .peek((k, v) -> count(true));
            KStream<String, JsonNode> auctions = b.stream(in[1], Consumed.with(STRING, JSON))
                .peek((k, v) -> count(true))
                .selectKey((k, v) -> Long.toString(field(v, "seller").longValue()))
                .repartition(Repartitioned.with(STRING, JSON).withName(byWindowName()));
            persons.join(auctions, Peer::q8Join,
                    JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(Q8_WINDOW_MS),
                        Duration.ofMillis(Q8_GRACE_MS)),
                    StreamJoined.with(STRING, JSON, JSON))
                .filter((k, v) -> v != null)
                .peek(Peer::noteLine)
                .to(output, Produced.with(STRING, STRING));
            break;
        }
        default: {
            KStream<byte[], byte[]> left = b.stream(in[0], Consumed.with(BYTES, BYTES))
                .peek((k, v) -> count(true));
            KStream<byte[], byte[]> right = b.stream(in[1], Consumed.with(BYTES, BYTES))
                .peek((k, v) -> count(true));
            left.join(right, Peer::concat,
                    JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(SSJ_WINDOW_MS),
                        Duration.ofMillis(SSJ_GRACE_MS)),
                    StreamJoined.with(BYTES, BYTES, BYTES))
                .peek(Peer::noteSum)
                .to(output, Produced.with(BYTES, BYTES));
        }
        }
    }

    /** q5 and q7 (WORKLOADS.md): stage 1 per auction and window (bids are keyed by auction
     *  already: no repartition), final results only, re-keyed by window start; stage 2 across
     *  the auctions of each window, after the repartition. */
    static void windowedTopology(StreamsBuilder b) {
        KGroupedStream<String, JsonNode> byAuction =
            b.stream(input, Consumed.with(STRING, JSON).withTimestampExtractor(new BidTime()))
                .peek((k, v) -> count(true))
                .groupByKey(Grouped.with(STRING, JSON));
        KStream<String, String> finals1;
        Reducer<String> best;
        if (workload.equals("nexmark-q5")) {
            finals1 = byAuction
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ZERO)
                    .advanceBy(Duration.ofSeconds(2)))
                .count()
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream()
                .map((w, n) -> KeyValue.pair(Long.toString(w.window().start()),
                    n == null ? null : w.key() + "," + n));
            best = Peer::q5Hottest;
        } else {
            finals1 = byAuction
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ZERO))
                .reduce(Peer::q7HigherBid)
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream()
                .map((w, bid) -> KeyValue.pair(Long.toString(w.window().start()),
                    bid == null ? null
                        : field(bid, "auction").longValue() + "," + field(bid, "price").longValue()
                            + "," + field(bid, "bidder").longValue()));
            best = Peer::q7Highest;
        }
        finals1.groupByKey(Grouped.with(byWindowName(), STRING, STRING))
            .reduce(best)
            .toStream()
            .peek(Peer::noteFinal)
            .to(output, Produced.with(STRING, STRING));
    }

    /** windowed-count (WORKLOADS.md): per record key (no repartition: the input is keyed and
     *  partitioned by it), tumbling windows of 1 s of record time, grace 0, count; every update
     *  of the table (as the record cache lets it through) re-keyed "<key>@<window start>" with
     *  the count in decimal, both strings. */
    static void windowedCountTopology(StreamsBuilder b) {
        b.stream(input, Consumed.with(BYTES, BYTES))
            .peek((k, v) -> count(true))
            .groupByKey(Grouped.with(BYTES, BYTES))
            .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(1)))
            .count()
            .toStream()
            .map((w, n) -> KeyValue.pair(
                new String(w.key(), StandardCharsets.UTF_8) + "@" + w.window().start(),
                n == null ? null : n.toString()))
            .peek(Peer::noteFinal)
            .to(output, Produced.with(STRING, STRING));
    }

    /** Whether the group committed every partition of topic up to its end (a partition that
     *  never held a record counts as done); false while the topic is unknown. */
    static boolean committedToEnd(KafkaConsumer<byte[], byte[]> c, String topic) {
        List<PartitionInfo> parts = c.partitionsFor(topic, Duration.ofSeconds(5));
        if (parts == null || parts.isEmpty())
            return false;
        Set<TopicPartition> tps = new HashSet<>();
        for (PartitionInfo p : parts)
            tps.add(new TopicPartition(topic, p.partition()));
        Map<TopicPartition, OffsetAndMetadata> committed = c.committed(tps, Duration.ofSeconds(5));
        Map<TopicPartition, Long> ends = c.endOffsets(tps, Duration.ofSeconds(5));
        for (TopicPartition tp : tps) {
            OffsetAndMetadata om = committed.get(tp);
            long end = ends.get(tp), at = om == null ? -1 : om.offset();
            if (end > 0 && at < end)
                return false;
        }
        return true;
    }

    /**
     * Waits until every output of the N records is written and acknowledged. A commit writes the
     * committed tasks' caches through (stage 1's suppress then emits what closed, to the
     * repartition topic) and flushes the producer before it commits the offsets. So once the
     * group's offsets reach the end of the input, stage 1 is done and the repartition topic holds
     * all it will ever hold; once they reach the end of the repartition topic, stage 2 processed
     * all of it and a commit wrote its cache through and had the outputs acknowledged. Without a
     * repartition topic (windowed-count) the input's end is the end. Under exactly_once_v2 the
     * offsets are committed by the transaction that holds the outputs, so the same test means
     * the outputs are committed.
     */
    static void drain(long deadline) throws InterruptedException {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group); // never joins: it only reads the offsets
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "rill-bench-drain");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        String repartition =
            byWindowName() == null ? null : group + "-" + byWindowName() + "-repartition";
        List<String> topics = new ArrayList<>(List.of(inputs()));
        if (repartition != null)
            topics.add(repartition);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            for (int at = 0; at < topics.size();) {
                if (failure.get() != null)
                    die(failure.get());
                if (committedToEnd(c, topics.get(at))) {
                    at++;
                    continue;
                }
                if (System.nanoTime() > deadline)
                    die("cannot drain: the group's offsets did not reach the end of '"
                        + topics.get(at) + "' within " + timeoutS + " s");
                Thread.sleep(20);
            }
        }
    }

    /** A metric of the app summed over its instances (threads, tasks), or 0. */
    static double metricSum(String group, String name) {
        double sum = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet())
            if (e.getKey().group().equals(group) && e.getKey().name().equals(name)
                && e.getValue().metricValue() instanceof Number)
                sum += ((Number) e.getValue().metricValue()).doubleValue();
        return sum;
    }

    /** The windowed run after the N-th record: drain, close, final results, cleanup, RESULT. */
    static void finishWindowed(long deadline) throws Exception {
        double seconds = (tEndNanos - tFirstNanos) / 1e9;
        double cpu = (cpuEndNanos - cpuFirstNanos) / 1e9;
        long drainStart = System.nanoTime();
        drain(deadline);
        double drainMs = (System.nanoTime() - drainStart) / 1e6;
        if (join()) { // a join's work goes on after the N-th record: timed to the drain's end
            seconds = (System.nanoTime() - tFirstNanos) / 1e9;
            cpu = (OS.getProcessCpuTime() - cpuFirstNanos) / 1e9;
        }
        long rssPeakKb = procStatusKb("VmHWM");
        long late = (long) metricSum("stream-task-metrics", "dropped-records-total");
        if (!streams.close(Duration.ofSeconds(30)))
            die("cannot close the app within 30 s");
        if (failure.get() != null)
            die(failure.get());
        long produced = AckCounter.acked.get();
        if (produced != outputs.get() || AckCounter.failed.get() > 0)
            die(outputs.get() + " outputs made, " + produced + " acknowledged ("
                + AckCounter.failed.get() + " failed)");

        // The app's internal topics and local state go, as the harness deletes the round's topics.
        deleteTree(Path.of(stateDir()));
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            List<String> internal = new ArrayList<>();
            for (String t : admin.listTopics().names().get(30, TimeUnit.SECONDS))
                if (t.startsWith(group + "-")
                    && (t.endsWith("-repartition") || t.endsWith("-changelog")))
                    internal.add(t);
            if (!internal.isEmpty())
                admin.deleteTopics(internal).all().get(30, TimeUnit.SECONDS);
        }
        int nfinals = finals.size();
        if (finalsPath != null) {
            StringBuilder sb = new StringBuilder();
            if (workload.equals("stream-stream-join")) {
                sb.append(String.format(Locale.ROOT, "outputs=%d checksum=%016x%n",
                    outputs.get(), checksum));
                nfinals = 1;
            } else if (workload.equals("nexmark-q8")) {
                List<String> sorted = new ArrayList<>(lines);
                sorted.sort(Comparator.naturalOrder());
                for (String l : sorted)
                    sb.append(l).append('\n');
                nfinals = sorted.size();
            } else {
                for (Map.Entry<String, String> e : new TreeMap<>(finals).entrySet())
                    sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
            }
            Files.writeString(Path.of(finalsPath), sb.toString(), StandardCharsets.UTF_8);
        }
        if (late > 0)
            System.err.println("bench-kstreams: warning: " + late + " records dropped");
        long firstOutputMs = outputs.get() == 0 ? -1
            : firstOutputMillis - ManagementFactory.getRuntimeMXBean().getStartTime();
        System.out.printf(Locale.ROOT,
            "RESULT system=%s workload=%s records=%d measured=%d seconds=%.3f rps=%.0f "
                + "cpu_seconds=%.3f produced=%d rss_peak_kb=%d rss_steady_kb=%d "
                + "first_output_ms=%d drain_ms=%.0f finals=%d late=%d commits=%d%n",
            SYSTEM, workload, records, records - warmup, seconds, (records - warmup) / seconds,
            cpu, produced, rssPeakKb, rssSteadyKbWindowed, firstOutputMs, drainMs, nfinals,
            late, (long) (commitsEnd - commitsFirst));
        System.out.flush();
        System.exit(0);
    }

    static volatile long rssSteadyKbWindowed = -1;

    static String stateDir() {
        return System.getProperty("java.io.tmpdir") + "/rill-kstreams-peer-"
            + ProcessHandle.current().pid();
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root))
            return;
        try (var paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.delete(path);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    static Topology topology() {
        StreamsBuilder b = new StreamsBuilder();
        switch (workload) {
        case "passthrough":
            b.stream(input, Consumed.with(BYTES, BYTES))
                .peek((k, v) -> count(true))
                .to(output, Produced.with(BYTES, BYTES));
            break;
        case "filter-map":
            b.stream(input, Consumed.with(BYTES, BYTES))
                .filter((k, v) -> count(v != null && v.length > 0 && (v[0] & 1) == 0))
                .mapValues(Peer::prefixM)
                .to(output, Produced.with(BYTES, BYTES));
            break;
        case "nexmark-q0":
            b.stream(input, Consumed.with(STRING, JSON))
                .peek((k, v) -> count(true))
                .to(output, Produced.with(STRING, JSON));
            break;
        case "nexmark-q1":
            b.stream(input, Consumed.with(STRING, JSON))
                .peek((k, v) -> count(true))
                .mapValues(Peer::q1)
                .to(output, Produced.with(STRING, JSON));
            break;
        case "nexmark-q2":
            b.stream(input, Consumed.with(STRING, JSON))
                .filter((k, v) -> count(q2Keep(v)))
                .mapValues(Peer::q2)
                .to(output, Produced.with(STRING, JSON));
            break;
        case "nexmark-q5":
        case "nexmark-q7":
            windowedTopology(b);
            break;
        case "windowed-count":
            windowedCountTopology(b);
            break;
        case "nexmark-q3":
        case "nexmark-q8":
        case "stream-stream-join":
            joinTopology(b);
            break;
        default:
            throw new IllegalStateException(workload);
        }
        return b.build();
    }

    static Properties config() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, group);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
        // Stateless topologies create no state directory (checked); a private path keeps any
        // attempt out of the shared /tmp/kafka-streams. The windowed workloads keep their stores
        // there, and delete it at the end.
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), true);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        // librdkafka's default batch.size (Rill's producer): the same batches on the wire. The
        // Java client's own default, 16384 bytes, costs this app about a third more CPU.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 1000000);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG),
            AckCounter.class.getName());
        for (String[] kv : consumerSet)
            p.put(StreamsConfig.consumerPrefix(kv[0]), kv[1]);
        for (String[] kv : producerSet)
            p.put(StreamsConfig.producerPrefix(kv[0]), kv[1]);
        for (String[] kv : streamsSet)
            p.put(kv[0], kv[1]);
        return p;
    }

    // -------------------------------------------------------------------- main ---

    static KafkaStreams streams;

    static String where() {
        return " (workload " + workload + ", input '" + input + "', output '" + output
            + "', group '" + group + "', bootstrap " + bootstrap + ")";
    }

    static void die(String what) {
        System.err.println("bench-kstreams: " + what + where());
        if (streams != null)
            streams.close(Duration.ofSeconds(5));
        System.exit(1);
    }

    /** Waits on latch until the deadline (System.nanoTime); false when time ran out. */
    static boolean await(CountDownLatch latch, long deadline) throws InterruptedException {
        return latch.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    public static void main(String[] args) throws Exception {
        parse(args);
        AckCounter.outputTopic = output;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);

        streams = new KafkaStreams(topology(), config());
        streams.setUncaughtExceptionHandler(e -> {
            Throwable root = e;
            StringBuilder why = new StringBuilder(e.toString());
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
                why.append("; caused by ").append(root);
            }
            fail("the app failed: " + why);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((to, from) -> {
            if (to == KafkaStreams.State.ERROR)
                fail("the app went to state ERROR (from " + from + ")");
        });
        streams.start();

        // Phase 1: sleep until half of the records went by, sample VmRSS (on this thread, so
        // the stream thread does not pay for the file read), then sleep until all went by.
        if (!await(half, deadline) || failure.get() != null) {
            if (failure.get() != null)
                die(failure.get());
            die("only " + seen.get() + " of " + records + " records reached the topology within "
                + timeoutS + " s, app state " + streams.state());
        }
        long rssSteadyKb = procStatusKb("VmRSS");
        if (!await(done, deadline) || failure.get() != null) {
            if (failure.get() != null)
                die(failure.get());
            die("only " + seen.get() + " of " + records + " records reached the topology within "
                + timeoutS + " s, app state " + streams.state());
        }
        if (windowed()) {
            rssSteadyKbWindowed = rssSteadyKb;
            finishWindowed(deadline);
        }

        // Phase 2: every output of the N records acknowledged.
        long expected = passedAtN;
        while (AckCounter.acked.get() < expected) {
            if (failure.get() != null)
                die(failure.get());
            if (AckCounter.failed.get() > 0)
                die("an output was not delivered: " + AckCounter.firstError.get());
            if (System.nanoTime() > deadline)
                die(records + " records processed, " + AckCounter.acked.get() + " of " + expected
                    + " outputs acknowledged within " + timeoutS + " s");
            LockSupport.parkNanos(1_000_000);
        }
        long end = System.nanoTime();
        long cpuEnd = OS.getProcessCpuTime();
        long produced = AckCounter.acked.get();
        double seconds = (end - tFirstNanos) / 1e9;
        double cpu = (cpuEnd - cpuFirstNanos) / 1e9;

        if (!streams.close(Duration.ofSeconds(30)))
            die("cannot close the app within 30 s");
        if (failure.get() != null)
            die(failure.get());
        long rssPeakKb = procStatusKb("VmHWM");
        long firstAck = AckCounter.firstAckMillis.get();
        long firstOutputMs = firstAck == 0 ? -1
            : firstAck - ManagementFactory.getRuntimeMXBean().getStartTime();
        if (produced < expected || AckCounter.failed.get() > 0) {
            die("expected " + expected + " outputs acknowledged, got " + produced + " ("
                + AckCounter.failed.get() + " failed)");
        }
        System.out.printf(Locale.ROOT,
            "RESULT system=%s workload=%s records=%d measured=%d seconds=%.3f rps=%.0f "
                + "cpu_seconds=%.3f produced=%d rss_peak_kb=%d rss_steady_kb=%d "
                + "first_output_ms=%d%n",
            SYSTEM, workload, records, records - warmup, seconds, (records - warmup) / seconds,
            cpu, produced, rssPeakKb, rssSteadyKb, firstOutputMs);
        System.out.flush();
        System.exit(0);
    }
}
