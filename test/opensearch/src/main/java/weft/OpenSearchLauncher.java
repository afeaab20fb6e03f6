package weft;

import static org.codelibs.opensearch.runner.OpenSearchRunner.newConfigs;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Test-only launcher: one single-node OpenSearch cluster inside this JVM,
 * plain HTTP on 127.0.0.1 (no security plugin is on the classpath, so no TLS
 * and no auth).
 *
 * <p>Options (flag, then environment variable, then default):
 * <pre>
 *   --port N             WEFT_OS_PORT            19200   HTTP port
 *   --transport-port N   WEFT_OS_TRANSPORT_PORT  port+100
 *   --base-dir DIR       WEFT_OS_BASE_DIR        a fresh temp dir  (node data/logs/config)
 *   --ready-file FILE    WEFT_OS_READY_FILE      none   written once health is yellow/green
 *   --cluster-name NAME  WEFT_OS_CLUSTER_NAME    weft-test
 *   --ready-timeout SEC  WEFT_OS_READY_TIMEOUT   170
 * </pre>
 *
 * <p>Prints {@code WEFT_OPENSEARCH_READY url=... status=...} on stdout when
 * {@code _cluster/health} answers yellow or green. SIGTERM/SIGINT run a
 * shutdown hook that closes the node and removes the ready file.
 */
public final class OpenSearchLauncher {

    private OpenSearchLauncher() {
    }

    public static void main(final String[] args) throws Exception {
        final int port = Integer.parseInt(opt(args, "--port", "WEFT_OS_PORT", "19200"));
        final int transportPort =
                Integer.parseInt(opt(args, "--transport-port", "WEFT_OS_TRANSPORT_PORT", String.valueOf(port + 100)));
        String baseDir = opt(args, "--base-dir", "WEFT_OS_BASE_DIR", null);
        final String readyFile = opt(args, "--ready-file", "WEFT_OS_READY_FILE", null);
        final String clusterName = opt(args, "--cluster-name", "WEFT_OS_CLUSTER_NAME", "weft-test");
        final int readyTimeout = Integer.parseInt(opt(args, "--ready-timeout", "WEFT_OS_READY_TIMEOUT", "170"));

        if (baseDir == null) {
            baseDir = Files.createTempDirectory("weft-opensearch").toAbsolutePath().toString();
        }
        final Path base = Paths.get(baseDir).toAbsolutePath();
        Files.createDirectories(base);
        final Path ready = readyFile == null ? null : Paths.get(readyFile).toAbsolutePath();
        if (ready != null) {
            Files.deleteIfExists(ready);
        }

        final OpenSearchRunner runner = new OpenSearchRunner();
        // The runner otherwise probes for a free port between baseHttpPort+1 and 9299;
        // we always bind the exact port we were given and fail loudly if it is taken.
        runner.setMaxHttpPort(-1);
        runner.onBuild((number, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", String.valueOf(port));
            settings.put("transport.port", String.valueOf(transportPort));
            settings.put("discovery.type", "single-node");
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
            // keep the test node from going read-only on a nearly full disk
            settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
            settings.put("action.auto_create_index", true);
        });

        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("WEFT_OPENSEARCH_STOPPING");
            try {
                if (ready != null) {
                    Files.deleteIfExists(ready);
                }
            } catch (final IOException e) {
                // best effort
            }
            try {
                runner.close();
            } catch (final Exception e) {
                System.err.println("close failed: " + e);
            }
            System.out.println("WEFT_OPENSEARCH_STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "weft-opensearch-shutdown"));

        final long t0 = System.nanoTime();
        try {
            runner.build(newConfigs()
                    .clusterName(clusterName)
                    .numOfNode(1)
                    .basePath(base.toString())
                    .baseHttpPort(port - 1));
        } catch (final Throwable t) {
            System.err.println("WEFT_OPENSEARCH_FAILED node did not start: " + t);
            t.printStackTrace();
            System.exit(2);
        }

        final String url = "http://127.0.0.1:" + port;
        final String status = waitHealthy(url, readyTimeout);
        if (status == null) {
            System.err.println("WEFT_OPENSEARCH_FAILED cluster not yellow/green after " + readyTimeout + "s");
            System.exit(3);
        }
        final long ms = (System.nanoTime() - t0) / 1_000_000L;
        final String line = "WEFT_OPENSEARCH_READY url=" + url + " status=" + status + " startup_ms=" + ms
                + " pid=" + ProcessHandle.current().pid() + " base_dir=" + base;
        if (ready != null) {
            Files.createDirectories(ready.getParent());
            final Path tmp = ready.resolveSibling(ready.getFileName() + ".tmp");
            Files.write(tmp, (line + "\n").getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, ready, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        System.out.println(line);
        System.out.flush();

        // Park until the shutdown hook has run (SIGTERM/SIGINT) or every node closed.
        while (!stopped.await(5, java.util.concurrent.TimeUnit.SECONDS)) {
            if (runner.isClosed()) {
                break;
            }
        }
    }

    /** Polls _cluster/health over real HTTP; returns "green"/"yellow" or null on timeout. */
    private static String waitHealthy(final String url, final int timeoutSec) throws InterruptedException {
        final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        final long deadline = System.nanoTime() + timeoutSec * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                final HttpRequest req = HttpRequest
                        .newBuilder(URI.create(url + "/_cluster/health?wait_for_status=yellow&timeout=5s"))
                        .timeout(Duration.ofSeconds(10)).GET().build();
                final HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                final String body = resp.body();
                if (resp.statusCode() == 200) {
                    if (body.contains("\"status\":\"green\"")) {
                        return "green";
                    }
                    if (body.contains("\"status\":\"yellow\"")) {
                        return "yellow";
                    }
                }
            } catch (final IOException e) {
                // not listening yet
            }
            Thread.sleep(500);
        }
        return null;
    }

    private static String opt(final String[] args, final String flag, final String env, final String def) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals(flag) && i + 1 < args.length) {
                return args[i + 1];
            }
            if (args[i].startsWith(flag + "=")) {
                return args[i].substring(flag.length() + 1);
            }
        }
        final String v = System.getenv(env);
        if (v != null && !v.isEmpty()) {
            return v;
        }
        return def;
    }
}
