package portal.opensearch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one OpenSearch node for local development and tests of the portal.
 *
 * <p>Configuration comes from the environment:
 * <ul>
 *   <li>{@code OPENSEARCH_HOME} – directory for data/, logs/ and config/ (required by ./run; defaults to
 *       {@code ./.services/opensearch} when the program is started by hand),</li>
 *   <li>{@code OPENSEARCH_PORT} – HTTP port on 127.0.0.1 (default 9200),</li>
 *   <li>{@code OPENSEARCH_CLUSTER_NAME} – cluster name (default {@code portal-dev}),</li>
 *   <li>{@code OPENSEARCH_NODE_NAME} – this node's name (default {@code <cluster>-node}),</li>
 *   <li>{@code OPENSEARCH_TRANSPORT_PORT} – transport port on 127.0.0.1 (default: the first free one from 9300),</li>
 *   <li>{@code OPENSEARCH_SEED_HOSTS} – the cluster's transport addresses, comma-separated, and
 *       {@code OPENSEARCH_INITIAL_MANAGERS} – the node names that elect the first cluster manager. With these
 *       set the node joins a cluster of several; without them it is a single-node cluster.</li>
 * </ul>
 *
 * <p>No security plugin is loaded, so the node speaks plain HTTP without authentication. It binds to the loopback
 * address only. SIGTERM / Ctrl-C close the node through a JVM shutdown hook.
 */
public final class DevNode {

    /** The modules a stock distribution would load from modules/, here taken from the classpath. */
    private static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,
        CommonAnalysisPlugin.class,
        MapperExtrasPlugin.class,
        ReindexPlugin.class,
        PainlessPlugin.class
    );

    /** Node exposes its plugin-list constructor only to subclasses. */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private DevNode() {}

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    static Settings nodeSettings(Path home, int httpPort, String clusterName, String nodeName) {
        Settings.Builder settings = Settings.builder()
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            // A dev machine's disk may be fuller than the production watermarks allow.
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        String transportPort = env("OPENSEARCH_TRANSPORT_PORT", "");
        if (!transportPort.isEmpty()) {
            settings.put("transport.port", transportPort);
        }
        if (clustered()) {
            settings.putList("discovery.seed_hosts", List.of(env("OPENSEARCH_SEED_HOSTS", "").split(",")))
                .putList("cluster.initial_cluster_manager_nodes", List.of(env("OPENSEARCH_INITIAL_MANAGERS", "").split(",")));
        } else {
            settings.put("discovery.type", "single-node");
        }
        return settings.build();
    }

    static boolean clustered() {
        return !env("OPENSEARCH_SEED_HOSTS", "").isEmpty();
    }

    /**
     * A single node can never place replicas, so indices created without an explicit
     * {@code number_of_replicas} would stay yellow. OpenSearch reads this default from the cluster state only
     * (not from node settings), so it is stored as a persistent cluster setting unless one is already there.
     */
    static final String DEFAULT_REPLICAS = "cluster.default_number_of_replicas";

    private static void defaultToZeroReplicas(Node node, Logger log) {
        // Health stays red until the stored cluster state is recovered; only then are its settings visible.
        node.client().admin().cluster().prepareHealth().setWaitForYellowStatus().setTimeout(TimeValue.timeValueMinutes(2)).get();
        Settings persistent = node.client().admin().cluster().prepareState().get().getState().metadata().persistentSettings();
        if (persistent.hasValue(DEFAULT_REPLICAS)) {
            return;
        }
        node.client().admin().cluster().prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put(DEFAULT_REPLICAS, 0))
            .get();
        log.info("set persistent {}=0", DEFAULT_REPLICAS);
    }

    public static void main(String[] args) throws Exception {
        Path home = Paths.get(env("OPENSEARCH_HOME", ".services/opensearch")).toAbsolutePath().normalize();
        int port = Integer.parseInt(env("OPENSEARCH_PORT", "9200"));
        String clusterName = env("OPENSEARCH_CLUSTER_NAME", "portal-dev");
        String nodeName = env("OPENSEARCH_NODE_NAME", clusterName + "-node");

        for (String dir : new String[] {"data", "logs", "config"}) {
            Files.createDirectories(home.resolve(dir));
        }

        Logger log = LogManager.getLogger(DevNode.class);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            nodeSettings(home, port, clusterName, nodeName),
            Collections.emptyMap(),
            home.resolve("config"),
            () -> nodeName
        );
        Node node = new ClasspathNode(environment, MODULES);

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("shutting down");
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    log.warn("node did not close within 30s");
                }
            } catch (Exception e) {
                log.error("error while closing the node", e);
            } finally {
                log.info("stopped");
                closed.countDown();
                LogManager.shutdown();
            }
        }, "dev-node-shutdown"));

        try {
            node.start();
            if (!clustered()) {
                defaultToZeroReplicas(node, log);
            }
        } catch (Exception e) {
            log.error("node failed to start", e);
            // Runs the shutdown hook, which closes what was opened.
            System.exit(1);
        }
        log.info("OpenSearch {} ready on http://127.0.0.1:{} (home {})",
            org.opensearch.Version.CURRENT, port, home);

        // OpenSearch's own threads are daemons: keep the JVM alive until the shutdown hook has run.
        closed.await();
    }
}
