// Starts an embedded Neo4j database management service with Bolt on loopback.
// Run as a single-file source program (Java 11+):
//   java -cp 'lib/*' Neo4jLauncher.java DATA_DIR PORT PAGECACHE_BYTES AUTH(true|false)
// It prints "NEO4J-READY <port>" once Bolt accepts connections and shuts the database down
// cleanly on SIGTERM (a JVM shutdown hook), so the store is never left needing recovery.
import java.nio.file.Path;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public class Neo4jLauncher {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        long pagecache = Long.parseLong(args[2]);
        boolean auth = args.length > 3 && Boolean.parseBoolean(args[3]);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
            .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
            .setConfig(GraphDatabaseSettings.auth_enabled, auth)
            .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
            .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
            .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NEO4J-STOPPING");
            dbms.shutdown();
        }));
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        System.out.println("NEO4J-READY " + port);
        System.out.flush();
        Thread.currentThread().join();
    }
}
