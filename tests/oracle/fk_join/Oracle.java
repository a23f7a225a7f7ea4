import java.util.*;
import java.nio.file.*;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.test.TestRecord;

/*
 * Runs a foreign-key join scenario of tests/unit/test_fk_join.c through Kafka Streams'
 * TopologyTestDriver (record caches off) and prints each input followed by the records it makes
 * on "out", and, when the environment names them in SUB and RESP, on the subscription and
 * response topics (value bytes in hex). The join is the test's: tables "left" and "right", the
 * foreign key after '|', the joiner "(left,right)".
 * Arguments: inner|left, 1 to materialize the result as "store" (else 0), the scenario file,
 * and anything fourth to print the topology's description first.
 */
public class Oracle {
  static String hex(byte[] b) { if (b == null) return "null"; StringBuilder s = new StringBuilder(); for (byte x : b) s.append(String.format("%02x", x)); return s.toString(); }
  public static void main(String[] a) throws Exception {
    boolean left = a[0].equals("left");
    boolean mat = a[1].equals("1");
    StreamsBuilder b = new StreamsBuilder();
    Consumed<String, String> c = Consumed.with(Serdes.String(), Serdes.String());
    KTable<String, String> lt = b.table("left", c), rt = b.table("right", c);
    java.util.function.Function<String, String> fk = v -> { int i = v.indexOf('|'); return i < 0 ? null : v.substring(i + 1); };
    ValueJoiner<String, String, String> j = (x, y) -> "(" + x + "," + y + ")";
    Materialized<String, String, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>> m =
        mat ? Materialized.<String, String, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("store").withKeySerde(Serdes.String()).withValueSerde(Serdes.String()) : Materialized.with(null, null);
    KTable<String, String> out = left ? lt.leftJoin(rt, fk, j, m) : lt.join(rt, fk, j, m);
    out.toStream().to("out", Produced.with(Serdes.String(), Serdes.String()));
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "fk-test");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1");
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("fk").toString());
    Topology t = b.build(p);
    if (a.length > 3) System.out.print(t.describe());
    try (TopologyTestDriver d = new TopologyTestDriver(t, p)) {
      TestInputTopic<String, String> li = d.createInputTopic("left", new StringSerializer(), new StringSerializer());
      TestInputTopic<String, String> ri = d.createInputTopic("right", new StringSerializer(), new StringSerializer());
      TestOutputTopic<String, String> o = d.createOutputTopic("out", new StringDeserializer(), new StringDeserializer());
      String sub = System.getenv("SUB"), resp = System.getenv("RESP");
      TestOutputTopic<byte[], byte[]> so = sub == null ? null : d.createOutputTopic(sub, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      TestOutputTopic<byte[], byte[]> ro = resp == null ? null : d.createOutputTopic(resp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      for (String line : Files.readAllLines(Paths.get(a[2]))) {
        String[] f = line.trim().split(" ");
        if (f.length < 4) continue;
        String k = f[1].equals("null") ? null : f[1], v = f[2].equals("null") ? null : f[2];
        long ts = Long.parseLong(f[3]);
        (f[0].equals("L") ? li : ri).pipeInput(k, v, ts);
        System.out.println((f[0].equals("L") ? "left " : "right ") + f[1] + " = " + f[2] + " @" + ts);
        if (so != null) for (TestRecord<byte[], byte[]> r : so.readRecordsToList())
          System.out.println("  sub " + (r.key() == null ? "null" : new String(r.key())) + " " + hex(r.value()) + " @" + r.timestamp());
        if (ro != null) for (TestRecord<byte[], byte[]> r : ro.readRecordsToList())
          System.out.println("  resp " + (r.key() == null ? "null" : new String(r.key())) + " " + hex(r.value()) + " @" + r.timestamp());
        for (TestRecord<String, String> r : o.readRecordsToList())
          System.out.println("  => " + r.key() + " = " + r.value() + " @" + r.timestamp());
      }
    }
  }
}
