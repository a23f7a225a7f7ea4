/*
 * The chaos test's independent client: everything tests/chaos/run needs from Kafka that must not
 * go through Rill or librdkafka. It uses only the Apache Kafka Java client.
 *
 *   topics  --bootstrap B --topic NAME:PARTITIONS... [--replication-factor 3] [--min-isr 2]
 *           creates the topics (min.insync.replicas set on each) and waits until every
 *           partition has a leader.
 *   produce --bootstrap B --topic T --records N --keys K --rate R
 *           writes N records at a steady R records a second: record i has key "k<i % K>" (4
 *           digits) and value "id-<i>" (9 digits), unique. Idempotent, acks=all, so a broker
 *           failure neither loses nor repeats an input. Prints "produced=N acked=A failed=F
 *           seconds=S"; exit 1 when a record failed.
 *   watch   --bootstrap B --input T --output T --group G --status FILE --stop FILE
 *           [--interval-ms 100] [--report-ms 1000]
 *           samples progress (see Watch below) into FILE (one line, replaced at each sample)
 *           until the stop file exists; prints one "stall ..." line per stall of report-ms or
 *           more and, at the end, "longest_stall_ms=... first_output_at_ms=...". --trace FILE
 *           writes every sample, partition by partition, and the errors of failed samples.
 *   coordinator --bootstrap B --group G
 *           prints the node id of the group's coordinator.
 *   verify  --bootstrap B --input T --pass T --counts T [--timeout-s 180] [--show 5]
 *           reads the three topics with isolation.level=read_committed from the beginning to
 *           the end offsets found at start, and prints
 *             records=N lost=L duplicated=D wrong_counts=W keys=K ...
 *           (see Verify below) and the first problems of each kind. Exit 0 when the figures
 *           are printed (the caller judges them), 1 when they could not be made.
 */
package dev.rill.chaos;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Chaos {
    private static final PrintStream out = System.out;
    private static final PrintStream err = System.err;

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            usage();
        }
        Opts o = new Opts(args);
        int status;
        switch (args[0]) {
            case "topics":
                status = topics(o);
                break;
            case "produce":
                status = produce(o);
                break;
            case "watch":
                status = new Watch(o).run();
                break;
            case "verify":
                status = new Verify(o).run();
                break;
            case "coordinator":
                status = coordinator(o);
                break;
            default:
                usage();
                return;
        }
        out.flush();
        System.exit(status);
    }

    private static void usage() {
        err.println("usage: Chaos topics|produce|watch|verify|coordinator --bootstrap B ... "
                    + "(see Chaos.java)");
        System.exit(2);
    }

    /* "--name value" pairs after the mode; a name may repeat (getAll). */
    static final class Opts {
        private final Map<String, List<String>> map = new HashMap<>();

        Opts(String[] args) {
            for (int i = 1; i < args.length; i++) {
                if (!args[i].startsWith("--") || i + 1 >= args.length) {
                    err.println("chaos: bad argument '" + args[i] + "'");
                    usage();
                }
                map.computeIfAbsent(args[i].substring(2), k -> new ArrayList<>()).add(args[++i]);
            }
        }

        String get(String name) {
            List<String> v = map.get(name);
            if (v == null) {
                err.println("chaos: --" + name + " is required");
                usage();
            }
            return v.get(v.size() - 1);
        }

        String get(String name, String dflt) {
            return map.containsKey(name) ? get(name) : dflt;
        }

        long getLong(String name, long dflt) {
            return Long.parseLong(get(name, Long.toString(dflt)));
        }

        List<String> getAll(String name) {
            return map.getOrDefault(name, List.of());
        }
    }

    static Properties common(Opts o, String clientId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", o.get("bootstrap"));
        p.put("client.id", clientId);
        return p;
    }

    /* ---- topics -------------------------------------------------------------------------- */

    static int topics(Opts o) throws Exception {
        short rf = (short) o.getLong("replication-factor", 3);
        String minIsr = o.get("min-isr", "2");
        List<NewTopic> topics = new ArrayList<>();
        for (String spec : o.getAll("topic")) {
            String[] f = spec.split(":");
            topics.add(new NewTopic(f[0], Integer.parseInt(f[1]), rf)
                               .configs(Map.of("min.insync.replicas", minIsr)));
        }
        try (Admin admin = Admin.create(common(o, "chaos-topics"))) {
            for (NewTopic t : topics) {
                try {
                    admin.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
                    err.printf("chaos: created %s (%d partitions, replication %d, min ISR %s)%n",
                               t.name(), t.numPartitions(), rf, minIsr);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                    err.printf("chaos: %s exists already%n", t.name());
                }
            }
            /* Until every partition has a leader and its replicas, so producers start at once. */
            long deadline = System.currentTimeMillis() + 60000;
            List<String> names = topics.stream().map(NewTopic::name).toList();
            while (true) {
                boolean ready = true;
                try {
                    Map<String, TopicDescription> d =
                            admin.describeTopics(names).allTopicNames().get(10, TimeUnit.SECONDS);
                    for (TopicDescription td : d.values()) {
                        for (TopicPartitionInfo pi : td.partitions()) {
                            ready &= pi.leader() != null && pi.isr().size() >= pi.replicas().size();
                        }
                    }
                } catch (ExecutionException e) {
                    ready = false;
                }
                if (ready) {
                    return 0;
                }
                if (System.currentTimeMillis() > deadline) {
                    err.println("chaos: topics not ready after 60 s");
                    return 1;
                }
                Thread.sleep(200);
            }
        }
    }

    /* ---- coordinator --------------------------------------------------------------------- */

    static int coordinator(Opts o) throws Exception {
        try (Admin admin = Admin.create(common(o, "chaos-coordinator"))) {
            String group = o.get("group");
            out.println(admin.describeConsumerGroups(List.of(group))
                                .describedGroups()
                                .get(group)
                                .get(30, TimeUnit.SECONDS)
                                .coordinator()
                                .id());
            return 0;
        }
    }

    /* ---- produce ------------------------------------------------------------------------- */

    static String key(long i, long keys) {
        return String.format("k%04d", i % keys);
    }

    static String id(long i) {
        return String.format("id-%09d", i);
    }

    static int produce(Opts o) throws Exception {
        String topic = o.get("topic");
        long n = o.getLong("records", 0);
        long keys = o.getLong("keys", 100);
        double rate = Double.parseDouble(o.get("rate", "1000"));
        Properties p = common(o, "chaos-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        /* A broker down for a while must delay records, never fail them. */
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "600000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "600000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        AtomicLong acked = new AtomicLong(), failed = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        long t0 = System.nanoTime();
        long lastReport = t0;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (long i = 0; i < n; i++) {
                long due = t0 + (long) (i * 1e9 / rate);
                long ahead = due - System.nanoTime();
                if (ahead > 2_000_000) {
                    Thread.sleep(ahead / 1_000_000);
                }
                producer.send(new ProducerRecord<>(topic, key(i, keys), id(i)), (md, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                        firstError.compareAndSet(null, e.toString());
                    }
                });
                long now = System.nanoTime();
                if (now - lastReport > 5_000_000_000L) {
                    err.printf("chaos: produced %d of %d (acked %d) in %.1f s%n", i + 1, n,
                               acked.get(), (now - t0) / 1e9);
                    lastReport = now;
                }
            }
            producer.flush();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        out.printf("produced=%d acked=%d failed=%d seconds=%.1f%n", n, acked.get(), failed.get(),
                   secs);
        if (firstError.get() != null) {
            out.println("first_error=" + firstError.get());
        }
        return failed.get() == 0 && acked.get() == n ? 0 : 1;
    }

    /* ---- watch --------------------------------------------------------------------------- */

    static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic, long timeoutMs)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            try {
                List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(5));
                if (infos != null && !infos.isEmpty()) {
                    List<TopicPartition> tps = new ArrayList<>();
                    for (PartitionInfo pi : infos) {
                        tps.add(new TopicPartition(topic, pi.partition()));
                    }
                    tps.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
                    return tps;
                }
            } catch (RuntimeException e) {
                /* retried below */
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("no partitions for topic " + topic);
            }
            Thread.sleep(200);
        }
    }

    static Properties readCommitted(Opts o, String clientId) {
        Properties p = common(o, clientId);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
              ByteArrayDeserializer.class.getName());
        return p;
    }

    /*
     * Progress, sampled every interval with the Admin API: in_end = the sum of the input's end
     * offsets; committed = the sum of the group's committed offsets on the input; pass_end =
     * the sum of the output's read_committed end offsets (last stable offsets: what a
     * read_committed reader can see). Input is pending while committed < in_end.
     *
     * A stall is an interval during which input was pending at every sample and no partition
     * of the output grew: it runs from the last sample at which one grew (or input was not
     * pending) to the first sample at which one grows again (or nothing is pending). Each
     * partition's answer counts on its own: a partition whose leader does not answer within
     * 1.5 s keeps its last value (no progress there), and so do the committed offsets when the
     * group coordinator does not answer. Stalls are counted from the first output record on:
     * the first start (group join) is reported apart as first_output_at_ms (wall-clock ms).
     */
    static final class Watch {
        final Opts o;
        long longest = 0, longestStart = 0, firstOutputAt = -1;
        long samples = 0, failedSamples = 0;

        Watch(Opts o) {
            this.o = o;
        }

        int run() throws Exception {
            String input = o.get("input"), output = o.get("output"), group = o.get("group");
            Path status = Path.of(o.get("status"));
            Path stop = Path.of(o.get("stop"));
            String tracePath = o.get("trace", "");
            long interval = o.getLong("interval-ms", 100);
            long threshold = o.getLong("report-ms", 1000);
            Properties ap = common(o, "chaos-watch");
            ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
            ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
            ap.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "50");
            try (Admin admin = Admin.create(ap);
                 PrintStream trace = tracePath.isEmpty()
                                             ? new PrintStream(OutputStream.nullOutputStream())
                                             : new PrintStream(tracePath)) {
                List<TopicPartition> in = partitions(admin, input);
                List<TopicPartition> pass = partitions(admin, output);
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                for (TopicPartition tp : in) {
                    latest.put(tp, OffsetSpec.latest());
                }
                for (TopicPartition tp : pass) {
                    latest.put(tp, OffsetSpec.latest());
                }
                ListOffsetsOptions committedOnly =
                        new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
                long[] inEnds = new long[in.size()], passEnds = new long[pass.size()];
                long[] passSeen = new long[pass.size()];
                long[] commits = new long[in.size()];
                long progressAt = -1; /* the start of the current stall, -1 before any output */
                boolean stalled = false;
                trace.println("# t_ms in_end[p...] | committed[p...] | pass_end[p...] | "
                              + "pending grew stall_ms | stale values");
                while (!Files.exists(stop)) {
                    long t = System.currentTimeMillis();
                    /* Both requests at once; each partition's answer counts on its own, so a
                     * dead leader blinds the watcher to its partitions only. */
                    ListOffsetsResult ends = admin.listOffsets(latest, committedOnly);
                    KafkaFuture<Map<TopicPartition, OffsetAndMetadata>> offs =
                            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata();
                    long deadline = t + 1500;
                    StringBuilder stale = new StringBuilder();
                    for (int i = 0; i < in.size(); i++) {
                        Long v = offset(ends.partitionResult(in.get(i)), deadline);
                        if (v != null) {
                            inEnds[i] = v;
                        } else {
                            stale.append(" in").append(i);
                        }
                    }
                    boolean grew = false;
                    for (int i = 0; i < pass.size(); i++) {
                        Long v = offset(ends.partitionResult(pass.get(i)), deadline);
                        if (v != null) {
                            passEnds[i] = v;
                            grew |= v > passSeen[i];
                            passSeen[i] = Math.max(passSeen[i], v);
                        } else {
                            stale.append(" pass").append(i);
                        }
                    }
                    Map<TopicPartition, OffsetAndMetadata> cm = answer(offs, deadline);
                    if (cm != null) {
                        for (int i = 0; i < in.size(); i++) {
                            OffsetAndMetadata om = cm.get(in.get(i));
                            commits[i] = om == null ? 0 : om.offset();
                        }
                    } else {
                        stale.append(" group");
                    }
                    samples++;
                    if (stale.length() > 0) {
                        failedSamples++;
                    }
                    long inEnd = sum(inEnds), committed = sum(commits), passEnd = sum(passSeen);
                    boolean pending = committed < inEnd;
                    if (grew && firstOutputAt < 0) {
                        firstOutputAt = t;
                        progressAt = t;
                    }
                    long stall = 0;
                    if (progressAt >= 0) {
                        if (grew || !pending) {
                            if (stalled) {
                                endStall(progressAt, t, threshold);
                            }
                            stalled = false;
                            progressAt = t;
                        } else {
                            stalled = true;
                            stall = t - progressAt;
                        }
                    }
                    trace.printf("%d %s | %s | %s | %d %d %d |%s%n", t, join(inEnds), join(commits),
                                 join(passEnds), pending ? 1 : 0, grew ? 1 : 0, stall, stale);
                    writeStatus(status, String.format(
                            "t_ms=%d in_end=%d committed=%d pass_end=%d pending=%d stale=%d "
                                    + "stall_ms=%d longest_stall_ms=%d%n",
                            t, inEnd, committed, passEnd, pending ? 1 : 0,
                            stale.length() > 0 ? 1 : 0, stall, Math.max(longest, stall)));
                    long sleep = t + interval - System.currentTimeMillis();
                    if (sleep > 0) {
                        Thread.sleep(sleep);
                    }
                }
                if (stalled) {
                    endStall(progressAt, System.currentTimeMillis(), threshold);
                    out.println("(the last stall was still going on when the watch stopped)");
                }
                admin.close(Duration.ofSeconds(5));
            }
            out.printf("longest_stall_ms=%d longest_stall_start_ms=%d first_output_at_ms=%d "
                               + "samples=%d stale_samples=%d%n",
                       longest, longestStart, firstOutputAt, samples, failedSamples);
            out.flush();
            return 0;
        }

        /* The future's value if it completes by deadline (wall-clock ms), else null. */
        static <T> T answer(KafkaFuture<T> f, long deadline) {
            try {
                return f.get(Math.max(1, deadline - System.currentTimeMillis()),
                             TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                return null;
            }
        }

        static Long offset(KafkaFuture<ListOffsetsResult.ListOffsetsResultInfo> f, long deadline) {
            ListOffsetsResult.ListOffsetsResultInfo r = answer(f, deadline);
            return r == null ? null : r.offset();
        }

        static List<TopicPartition> partitions(Admin admin, String topic) throws Exception {
            long deadline = System.currentTimeMillis() + 60000;
            while (true) {
                try {
                    TopicDescription d = admin.describeTopics(List.of(topic))
                                                 .allTopicNames()
                                                 .get(5, TimeUnit.SECONDS)
                                                 .get(topic);
                    List<TopicPartition> tps = new ArrayList<>();
                    for (TopicPartitionInfo pi : d.partitions()) {
                        tps.add(new TopicPartition(topic, pi.partition()));
                    }
                    tps.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
                    return tps;
                } catch (Exception e) {
                    if (System.currentTimeMillis() > deadline) {
                        throw e;
                    }
                    Thread.sleep(200);
                }
            }
        }

        static long sum(long[] a) {
            long s = 0;
            for (long x : a) {
                s += x;
            }
            return s;
        }

        static String join(long[] a) {
            StringBuilder b = new StringBuilder();
            for (long x : a) {
                b.append(b.length() == 0 ? "" : " ").append(x);
            }
            return b.toString();
        }

        /* A stall ends: it lasted from the last sample that showed progress to the first that
         * shows it again. */
        void endStall(long start, long end, long threshold) {
            if (end - start > longest) {
                longest = end - start;
                longestStart = start;
            }
            if (end - start >= threshold) {
                out.printf("stall start_ms=%d end_ms=%d ms=%d%n", start, end, end - start);
                out.flush();
            }
        }

        static void writeStatus(Path status, String line) throws IOException {
            Path tmp = status.resolveSibling(status.getFileName() + ".tmp");
            Files.writeString(tmp, line);
            Files.move(tmp, status, StandardCopyOption.REPLACE_EXISTING,
                       StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /* ---- verify -------------------------------------------------------------------------- */

    /*
     * The truth is what chaos-in holds (read back, not what the producer meant to write):
     *   lost         input records whose id appears fewer times in chaos-pass than in chaos-in
     *                (one per missing copy)
     *   duplicated   extra copies in chaos-pass (one per copy beyond the input's)
     *   wrong_counts keys whose last count in chaos-counts differs from their number of input
     *                records (a key with no count at all included); over/under split them
     *   unexpected   chaos-pass records whose id is not in the input at all
     *   wrong_keys   chaos-pass records whose key is not the key of that id in the input
     */
    static final class Verify {
        final Opts o;
        final int show;
        final long timeoutMs;

        Verify(Opts o) {
            this.o = o;
            this.show = (int) o.getLong("show", 5);
            this.timeoutMs = o.getLong("timeout-s", 180) * 1000;
        }

        interface Sink {
            void take(ConsumerRecord<byte[], byte[]> r);
        }

        /* Reads topic from the beginning to the end offsets seen at start; returns the count. */
        long read(KafkaConsumer<byte[], byte[]> c, String topic, Sink sink) throws Exception {
            List<TopicPartition> tps = partitions(c, topic, 60000);
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps, Duration.ofSeconds(60));
            long deadline = System.currentTimeMillis() + timeoutMs;
            long n = 0;
            Set<TopicPartition> left = new HashSet<>();
            for (TopicPartition tp : tps) {
                if (c.position(tp, Duration.ofSeconds(60)) < ends.get(tp)) {
                    left.add(tp);
                }
            }
            while (!left.isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException(String.format(
                            "%s: not read to its end offsets %s within %d s (%d records read)",
                            topic, ends, timeoutMs / 1000, n));
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (r.offset() < ends.get(tp)) {
                        sink.take(r);
                        n++;
                    }
                }
                for (TopicPartition tp : new ArrayList<>(left)) {
                    if (c.position(tp) >= ends.get(tp)) {
                        left.remove(tp);
                    }
                }
            }
            c.unsubscribe();
            return n;
        }

        static String str(byte[] b) {
            return b == null ? null : new String(b, StandardCharsets.UTF_8);
        }

        int run() {
            String input = o.get("input"), pass = o.get("pass"), counts = o.get("counts");
            Map<String, Integer> inCopies = new HashMap<>();
            Map<String, String> idKey = new HashMap<>();
            Map<String, Long> trueCount = new TreeMap<>();
            Map<String, Integer> passCopies = new HashMap<>();
            Map<String, Long> lastCount = new HashMap<>();
            Map<String, Integer> countPartition = new HashMap<>();
            List<String> notes = new ArrayList<>();
            long[] bad = new long[4]; /* null input, unexpected, wrong key, malformed count */
            long inRecords, passRecords, countRecords;
            long t0 = System.nanoTime();
            try (KafkaConsumer<byte[], byte[]> c =
                         new KafkaConsumer<>(readCommitted(o, "chaos-verify"))) {
                inRecords = read(c, input, r -> {
                    String k = str(r.key()), v = str(r.value());
                    if (k == null || v == null) {
                        bad[0]++;
                        return;
                    }
                    inCopies.merge(v, 1, Integer::sum);
                    idKey.put(v, k);
                    trueCount.merge(k, 1L, Long::sum);
                });
                passRecords = read(c, pass, r -> {
                    String k = str(r.key()), v = str(r.value());
                    String want = v == null ? null : idKey.get(v);
                    if (want == null) {
                        if (bad[1]++ < show) {
                            notes.add(String.format("unexpected: %s p%d@%d key=%s value=%s", pass,
                                                    r.partition(), r.offset(), k, v));
                        }
                        return;
                    }
                    if (!want.equals(k) && bad[2]++ < show) {
                        notes.add(String.format("wrong key: %s p%d@%d id %s has key %s, input %s",
                                                pass, r.partition(), r.offset(), v, k, want));
                    }
                    passCopies.merge(v, 1, Integer::sum);
                });
                countRecords = read(c, counts, r -> {
                    String k = str(r.key());
                    byte[] v = r.value();
                    if (k == null || v == null || v.length != 8) {
                        if (bad[3]++ < show) {
                            notes.add(String.format("malformed count: %s p%d@%d key=%s %s", counts,
                                                    r.partition(), r.offset(), k,
                                                    v == null ? "null" : v.length + " bytes"));
                        }
                        return;
                    }
                    Integer p = countPartition.put(k, r.partition());
                    if (p != null && p != r.partition()) {
                        notes.add("key " + k + " has counts in partitions " + p + " and "
                                  + r.partition() + ": its last count is ambiguous");
                    }
                    lastCount.put(k, ByteBuffer.wrap(v).getLong());
                });
            } catch (Exception e) {
                out.println("verifier: error: " + e);
                return 1;
            }

            long lost = 0, duplicated = 0, lostIds = 0, dupIds = 0, inputDupIds = 0;
            List<String> lostShown = new ArrayList<>(), dupShown = new ArrayList<>();
            for (Map.Entry<String, Integer> e : new TreeMap<>(inCopies).entrySet()) {
                int want = e.getValue(), got = passCopies.getOrDefault(e.getKey(), 0);
                if (want > 1) {
                    inputDupIds++;
                }
                if (got < want) {
                    lost += want - got;
                    if (lostIds++ < show) {
                        lostShown.add(e.getKey() + " (key " + idKey.get(e.getKey()) + ")");
                    }
                } else if (got > want) {
                    duplicated += got - want;
                    if (dupIds++ < show) {
                        dupShown.add(e.getKey() + " x" + got);
                    }
                }
            }
            Set<String> keys = new HashSet<>(trueCount.keySet());
            keys.addAll(lastCount.keySet());
            long wrong = 0, over = 0, under = 0;
            List<String> wrongShown = new ArrayList<>();
            for (String k : new TreeSet<>(keys)) {
                long want = trueCount.getOrDefault(k, 0L);
                Long got = lastCount.get(k);
                if (got == null || got != want) {
                    wrong++;
                    if (got != null && got > want) {
                        over++;
                    } else {
                        under++;
                    }
                    if (wrongShown.size() < show) {
                        wrongShown.add(k + ": last count " + (got == null ? "none" : got)
                                       + ", true " + want);
                    }
                }
            }
            out.printf("records=%d lost=%d duplicated=%d wrong_counts=%d keys=%d "
                               + "pass_records=%d count_records=%d counts_over=%d counts_under=%d "
                               + "unexpected=%d wrong_keys=%d input_dup_ids=%d null_inputs=%d "
                               + "malformed_counts=%d seconds=%.1f%n",
                       inRecords, lost, duplicated, wrong, trueCount.size(), passRecords,
                       countRecords, over, under, bad[1], bad[2], inputDupIds, bad[0], bad[3],
                       (System.nanoTime() - t0) / 1e9);
            if (!lostShown.isEmpty()) {
                out.println("  lost (" + lostIds + " ids), first: " + String.join(", ", lostShown));
            }
            if (!dupShown.isEmpty()) {
                out.println("  duplicated (" + dupIds + " ids), first: "
                            + String.join(", ", dupShown));
            }
            if (!wrongShown.isEmpty()) {
                out.println("  wrong counts, first: " + String.join("; ", wrongShown));
            }
            for (String n : notes) {
                out.println("  " + n);
            }
            return 0;
        }
    }
}
